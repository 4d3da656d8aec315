"""Freshness across processes: two gunicorn app servers and a management command sharing one
database see each other's changes on the next request, on the embedded default (SQLite file,
local-memory cache, no settings) and on PostgreSQL + Redis."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from django.db import connection

from tests.factories import connector_yaml

from .cluster import app_server, environment, manage

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")

SETUP = """
import json
from profiles.services import connector_version_push
from profiles.services import profile_create
from projects.services import Actor
from tests.factories import connector_yaml, make_api_key, make_project
system = Actor.system()
for number in ("1.0.0", "2.0.0"):
    connector_version_push(actor=system, project=None,
                           files=[("c", connector_yaml(version=number))])
project = make_project()
_key, secret = make_api_key(project)
profile = profile_create(actor=system, project=project, connector_key="acme_crm", name="p",
                         pin="1.x.x")
print(json.dumps({"profile": str(profile.public_id), "key": secret}))
"""


def resolved(base: str, key: str, profile: str) -> str:
    answer = requests.get(
        f"{base}/api/v1/connector_profiles/{profile}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["resolved_version"]["version"])


def walk_through(env: dict[str, str], tmp_path: Path) -> None:
    """Server B answers (and caches) a resolution; each change through A or the command line
    is seen by B on its very next request."""
    created = json.loads(manage(env, "shell", "-c", SETUP).strip().splitlines()[-1])
    key, profile = created["key"], created["profile"]
    auth = {"Authorization": f"Bearer {key}"}
    with app_server(env) as a, app_server(env) as b:
        assert resolved(b, key, profile) == "1.0.0"
        assert resolved(b, key, profile) == "1.0.0"  # warm in B's caches now
        assert resolved(a, key, profile) == "1.0.0"

        # 1. A built-in version pushed from a terminal.
        definition = tmp_path / "crm.yaml"
        definition.write_bytes(connector_yaml(version="1.1.0"))
        manage(env, "push_connector", "--builtin", str(definition))
        assert resolved(b, key, profile) == "1.1.0"

        # 2. A pin change through server A.
        changed = requests.put(
            f"{a}/api/v1/connector_profiles/{profile}/pinned_version",
            json={"pinned_version": "2.x.x"},
            headers=auth,
            timeout=10,
        )
        assert changed.status_code == 200, changed.text
        assert resolved(b, key, profile) == "2.0.0"

        # 3. A custom version published through A's API (custom precedence).
        pushed = requests.post(
            f"{a}/api/v1/connectors/push",
            data=connector_yaml(version="2.0.1"),
            headers={**auth, "Content-Type": "application/yaml"},
            timeout=10,
        )
        assert pushed.status_code == 201, pushed.text
        assert resolved(b, key, profile) == "2.0.1"
        assert resolved(a, key, profile) == "2.0.1"


def test_embedded_default_two_servers_and_a_command(tmp_path: Path) -> None:
    """`make run`'s configuration: SQLite file, no CACHE_URL (local-memory cache)."""
    env = environment(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    manage(env, "migrate", "--no-input", "-v", "0")
    walk_through(env, tmp_path)
    assert (tmp_path / "db.sqlite3-generations").is_dir()  # the shared generation store


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgresql_and_redis_two_servers_and_a_command(tmp_path: Path) -> None:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    db: dict[str, Any] = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    if db.get("PASSWORD"):
        url = url.replace("@", f":{db['PASSWORD']}@", 1)
    prefix = f"fresh-{uuid.uuid4().hex[:8]}"
    env = environment(url, CACHE_URL=REDIS_URL, CACHE_KEY_PREFIX=prefix)
    try:
        walk_through(env, tmp_path)
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        for found in client.scan_iter(f"{prefix}:*"):
            client.delete(found)
