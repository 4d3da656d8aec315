"""Settings: the embedded SQLite default, PostgreSQL and Redis by URL, keys, production."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
PRINT = (
    "import json, django; from django.conf import settings; "
    "print(json.dumps({'db': settings.DATABASES['default'], 'cache': settings.CACHES['default'], "
    "'keys': settings.FIELD_ENCRYPTION_KEYS, 'sandbox': settings.SANDBOX_ENABLED, "
    "'oauth_http': settings.OAUTH_ALLOW_HTTP_LOOPBACK, "
    "'insecure_env': __import__('os').environ.get('OAUTHLIB_INSECURE_TRANSPORT')}, default=str))"
)


def load(module: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DJANGO_ALLOW_ASYNC_UNSAFE",
            "DATABASE_URL",
            "CACHE_URL",
            "FIELD_ENCRYPTION_KEYS",
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "DEBUG",
            "OAUTHLIB_INSECURE_TRANSPORT",
        }
    }
    clean.update(env, DJANGO_SETTINGS_MODULE=module, ENV_FILE="/nonexistent/.env")
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + PRINT],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def settings_of(module: str, **env: str) -> dict:
    result = load(module, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_sqlite_is_the_default() -> None:
    db = settings_of("config.settings.local")["db"]
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"].endswith("db.sqlite3")


def test_postgres_from_database_url() -> None:
    db = settings_of("config.settings.local", DATABASE_URL="postgres://u:p@db.internal:5433/hub")[
        "db"
    ]
    assert db["ENGINE"] == "core.db.postgresql"
    assert (db["HOST"], db["PORT"], db["NAME"], db["USER"]) == ("db.internal", 5433, "hub", "u")
    assert db["CONN_HEALTH_CHECKS"] is True and db["CONN_MAX_AGE"] == 60
    # Server-side binding, statements prepared from their fifth run on a connection.
    assert db["OPTIONS"] == {"server_side_binding": True, "prepare_threshold": 5}


def test_prepared_statements_can_be_turned_off() -> None:
    db = settings_of(
        "config.settings.local", DATABASE_URL="postgres://u@db/hub", DB_PREPARE_THRESHOLD="0"
    )["db"]
    assert db["OPTIONS"] == {"server_side_binding": True, "prepare_threshold": None}


def test_cache_url_selects_redis_and_defaults_to_local_memory() -> None:
    assert settings_of("config.settings.local")["cache"]["BACKEND"].endswith("LocMemCache")
    cache = settings_of("config.settings.local", CACHE_URL="redis://127.0.0.1:6379/3")["cache"]
    # Django's Redis backend, failing soft for reads and hard for invalidations (core.cache).
    assert cache["BACKEND"] == "core.cache.FailSoftRedisCache"
    assert cache["LOCATION"] == "redis://127.0.0.1:6379/3"


def test_encryption_keys_are_parsed_and_validated() -> None:
    k1, k2 = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    assert settings_of("config.settings.local", FIELD_ENCRYPTION_KEYS=f"{k1}, {k2}")["keys"] == [
        k1,
        k2,
    ]
    bad = load("config.settings.local", FIELD_ENCRYPTION_KEYS=f"{k1},not-a-key")
    assert bad.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS entry #2 is not a valid Fernet key" in bad.stderr
    assert "not-a-key" not in bad.stderr.split("ImproperlyConfigured")[-1]


PRODUCTION_ENV = {
    "SECRET_KEY": "x" * 30 + "-Production-Secret-Key-With-Enough-Entropy-0123456789",
    "ALLOWED_HOSTS": "hub.example.com",
    "CACHE_URL": "redis://127.0.0.1:6379/0",
}


def test_production_refuses_a_per_process_cache() -> None:
    env = {**PRODUCTION_ENV, "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    del env["CACHE_URL"]
    result = load("config.settings.production", **env)
    assert result.returncode != 0
    assert "CACHE_URL must name a shared cache" in result.stderr
    allowed = load("config.settings.production", **env, ALLOW_LOCAL_CACHE="true")
    assert allowed.returncode == 0, allowed.stderr


def test_production_serves_no_sandbox_and_no_plain_http_oauth() -> None:
    env = {**PRODUCTION_ENV, "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    values = settings_of("config.settings.production", **env)
    assert values["sandbox"] is False
    assert values["oauth_http"] is False
    assert values["insecure_env"] is None
    local = settings_of("config.settings.local")
    assert local["sandbox"] is True and local["oauth_http"] is True


def test_production_refuses_to_start_without_encryption_keys() -> None:
    result = load("config.settings.production", **PRODUCTION_ENV)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS is required in production" in result.stderr


def test_production_refuses_to_start_without_secret_key() -> None:
    result = load(
        "config.settings.production",
        ALLOWED_HOSTS="hub.example.com",
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_passes_check_deploy_without_warnings() -> None:
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process; a deployment never does.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update(
        PRODUCTION_ENV,
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        DJANGO_SETTINGS_MODULE="config.settings.production",
        ENV_FILE="/nonexistent/.env",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_security_headers_on_pages(client) -> None:
    response = client.get("/accounts/login/")
    csp = response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "'nonce-" in csp and "unsafe-inline" not in csp.split("style-src-attr")[0]
    assert response["X-Frame-Options"] == "DENY"
    nonce = csp.split("'nonce-")[1].split("'")[0]
    assert f'nonce="{nonce}"'.encode() in response.content, "htmx is loaded with the page's nonce"


@pytest.mark.postgres
def test_suite_runs_on_postgresql_when_asked(db: None) -> None:
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        assert int(cursor.fetchone()[0].split(".")[0]) >= 13
