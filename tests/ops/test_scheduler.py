"""The scheduler (django-crontask) and the task worker as real processes: a token that expires
in ten minutes is refreshed against the sandbox OAuth server (django-oauth-toolkit on the
live server) without anyone asking; the due-token and pruning rules themselves."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection as db_connection
from django.test import Client
from django.utils import timezone

from connections.models import Connection, Status
from connections.services.connections import tokens_blob
from connections.services.scheduled import tokens_due
from core import pruning
from projects.crypto import decrypt_json
from tests.connect.test_oauth import consent, new_link
from tests.factories import make_connection, make_profile, make_project

from .cluster import background, environment

pytestmark = pytest.mark.django_db(transaction=True)


def database_url() -> str:
    db: dict[str, Any] = db_connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return url.replace("@", f":{db['PASSWORD']}@", 1) if db.get("PASSWORD") else url


def expiring_in(connection: Connection, seconds: float) -> None:
    tokens = decrypt_json(connection.oauth_tokens)
    tokens["expires_at"] = time.time() + seconds
    connection.oauth_tokens, connection.token_expires_at = tokens_blob(tokens)
    connection.save(update_fields=["oauth_tokens", "token_expires_at"])


@pytest.mark.postgres
def test_scheduler_refreshes_a_token_expiring_in_ten_minutes(oauth: dict[str, Any]) -> None:
    browser = Client()
    _token, path = new_link(oauth["project"], oauth["profile"])
    assert browser.get(consent(browser, path)).status_code == 200
    connection = Connection.objects.get()
    expiring_in(connection, 600)
    before = decrypt_json(Connection.objects.get().oauth_tokens)

    env = environment(
        database_url(),
        SITE_URL=oauth["base"],
        FIELD_ENCRYPTION_KEYS=",".join(django_settings.FIELD_ENCRYPTION_KEYS),
        SCHEDULE_TOKEN_REFRESH_SECONDS="1",
        SCHEDULE_HEALTH_CHECK_SECONDS="3600",
    )
    with (
        background(env, "db_worker", "--no-startup-delay", "--interval", "0.2") as worker,
        background(env, "crontask", "--no-heartbeat") as scheduler,
    ):
        deadline = time.monotonic() + 90
        row = Connection.objects.get()
        while row.tokens_refreshed_at is None and time.monotonic() < deadline:
            assert worker.poll() is None and scheduler.poll() is None
            time.sleep(0.5)
            row = Connection.objects.get()
    assert row.tokens_refreshed_at is not None, "the scheduler did not refresh the token"
    after = decrypt_json(row.oauth_tokens)
    assert after["access_token"] != before["access_token"]
    assert after["expires_at"] > before["expires_at"] + 1800  # the sandbox issues 1 h tokens
    assert row.status == Status.ACTIVE


@pytest.fixture
def oauth(live_server: Any, settings: Any) -> dict[str, Any]:
    from sandbox.demo import seed_sandbox_oauth_profile

    settings.SITE_URL = live_server.url
    project = make_project()
    return {
        "project": project,
        "profile": seed_sandbox_oauth_profile(project),
        "base": live_server.url,
    }


def test_due_tokens(settings: Any) -> None:
    settings.TOKEN_REFRESH_AHEAD_SECONDS = 900
    settings.TOKEN_ASSUMED_LIFETIME_SECONDS = 3600
    settings.TOKEN_REFRESH_MAX_AGE_SECONDS = 86400
    profile = make_profile(make_project(), auth_type="oauth2")
    now = timezone.now()

    def oauth_connection(
        name: str, expires_in: float | None, refreshed_ago: float | None
    ) -> Connection:
        row = make_connection(profile, name=name)
        tokens: dict[str, Any] = {"access_token": "a", "refresh_token": "r"}
        if expires_in is not None:
            tokens["expires_at"] = time.time() + expires_in
        row.oauth_tokens, row.token_expires_at = tokens_blob(tokens)
        row.tokens_refreshed_at = now - timedelta(seconds=refreshed_ago) if refreshed_ago else None
        row.save()
        return row

    soon = oauth_connection("soon", 600, 60)
    oauth_connection("later", 3 * 3600, 60)
    assumed_old = oauth_connection("no expiry, refreshed 50 min ago", None, 50 * 60)
    oauth_connection("no expiry, refreshed 10 min ago", None, 10 * 60)
    stale = oauth_connection("long-lived, unused for 2 days", 30 * 86400, 2 * 86400)
    make_connection(profile, name="api key only")
    assert set(tokens_due().values_list("pk", flat=True)) == {soon.pk, assumed_old.pk, stale.pk}


def test_registered_pruners_delete_only_old_task_results(settings: Any) -> None:
    from django_tasks_db.models import DBTaskResult

    settings.TASK_RESULT_RETENTION_DAYS = 7
    assert "task_results" in {p.name for p in pruning.registered()}
    now = timezone.now()
    common = {
        "task_path": "x.y",
        "args_kwargs": {"args": [], "kwargs": {}},
        "queue_name": "default",
        "backend_name": "default",
        "priority": 0,
        "run_after": None,
        "return_value": None,
    }
    old = DBTaskResult.objects.create(
        status="SUCCESSFUL", finished_at=now - timedelta(days=8), **common
    )
    recent = DBTaskResult.objects.create(
        status="FAILED", finished_at=now - timedelta(days=1), **common
    )
    waiting = DBTaskResult.objects.create(status="READY", **common)
    assert pruning.run_all()["task_results"] == 1
    remaining = set(DBTaskResult.objects.values_list("pk", flat=True))
    assert remaining == {recent.pk, waiting.pk} and old.pk not in remaining
