"""OAuth token refresh against a real token endpoint on loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection as db_connection
from django.test import override_settings

from connections.models import Connection, Health, Status
from connections.services.health import connection_check_health
from connections.services.tokens import UpstreamError, connection_refresh_tokens
from projects.crypto import decrypt_json
from projects.models import AuditEntry
from projects.services import Actor
from tests.factories import make_connection, make_profile, make_project
from tests.provider import Answer, Provider, Seen, provider_server

SYSTEM = Actor.system()
CLIENT_SECRET = "client-secret-0123456789"


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        yield server


def oauth_connection(provider: Provider, *, expires_in: float = -10) -> Connection:
    profile = make_profile(
        make_project(),
        auth_type="oauth2",
        base_url=provider.url,
        health_path="/me",
        token_url=provider.url + "/token",
        required_fields=(),
        setup_fields=("client_id", "client_secret"),
        setup={"client_id": "hub-client", "client_secret": CLIENT_SECRET},
    )
    return make_connection(
        profile,
        config={},
        tokens={
            "access_token": "old-access-token",
            "refresh_token": "old-refresh-token",
            "token_type": "Bearer",
            "expires_at": time.time() + expires_in,
            "scope": "contacts.read",
        },
    )


def token_answer(refresh: str | None = "new-refresh-token") -> Answer:
    body = {"access_token": "new-access-token", "token_type": "bearer", "expires_in": 3600}
    if refresh:
        body["refresh_token"] = refresh
    return Answer(200, body)


@pytest.mark.django_db
def test_refresh_stores_new_tokens_encrypted(provider: Provider) -> None:
    provider.routes["/token"] = token_answer()
    connection = oauth_connection(provider)
    result = connection_refresh_tokens(actor=SYSTEM, connection=connection)
    assert result.refreshed
    (seen,) = provider.calls("/token")
    assert seen.form["grant_type"] == ["refresh_token"]
    assert seen.form["refresh_token"] == ["old-refresh-token"]
    assert seen.headers["Authorization"].startswith("Basic ")  # client_secret_basic
    connection.refresh_from_db()
    assert "new-access-token" not in connection.oauth_tokens  # encrypted at rest
    tokens = decrypt_json(connection.oauth_tokens)
    assert tokens["access_token"] == "new-access-token"
    assert tokens["refresh_token"] == "new-refresh-token"
    assert tokens["expires_at"] > time.time() + 3000
    assert connection.token_expires_at is not None
    entry = AuditEntry.objects.get(action="connection.tokens_refreshed")
    assert "token" not in str(entry.after).replace("new_refresh_token", "")


@pytest.mark.django_db
def test_response_without_refresh_token_keeps_the_old_one(provider: Provider) -> None:
    provider.routes["/token"] = token_answer(refresh=None)
    connection = oauth_connection(provider)
    connection_refresh_tokens(actor=SYSTEM, connection=connection)
    connection.refresh_from_db()
    tokens = decrypt_json(connection.oauth_tokens)
    assert tokens["access_token"] == "new-access-token"
    assert tokens["refresh_token"] == "old-refresh-token"


@pytest.mark.django_db
def test_invalid_grant_needs_reauth_without_retry(provider: Provider) -> None:
    provider.routes["/token"] = Answer(400, {"error": "invalid_grant"})
    connection = oauth_connection(provider)
    result = connection_refresh_tokens(actor=SYSTEM, connection=connection)
    assert not result.refreshed and "invalid_grant" in result.detail
    assert len(provider.calls("/token")) == 1
    connection.refresh_from_db()
    assert connection.status == Status.NEEDS_REAUTH
    assert connection.health == Health.NEEDS_REAUTH
    assert decrypt_json(connection.oauth_tokens)["access_token"] == "old-access-token"


@pytest.mark.django_db
@pytest.mark.parametrize("answer", [Answer(500, "<html>down</html>"), Answer(503, {"x": 1})])
def test_token_endpoint_failure_changes_nothing(provider: Provider, answer: Answer) -> None:
    provider.routes["/token"] = answer
    connection = oauth_connection(provider)
    before = Connection.objects.get(pk=connection.pk).oauth_tokens
    with pytest.raises(UpstreamError) as error:
        connection_refresh_tokens(actor=SYSTEM, connection=connection)
    assert error.value.status == 502
    assert "old-refresh-token" not in error.value.message
    connection.refresh_from_db()
    assert connection.oauth_tokens == before and connection.status == Status.ACTIVE


@pytest.mark.django_db
@override_settings(CONNECTION_HTTP_TIMEOUT=(1.0, 0.3))
def test_token_endpoint_timeout(provider: Provider) -> None:
    provider.routes["/token"] = Answer(200, token_answer().body, delay=1.5)
    connection = oauth_connection(provider)
    with pytest.raises(UpstreamError, match="in time"):
        connection_refresh_tokens(actor=SYSTEM, connection=connection)


@pytest.mark.django_db
def test_still_valid_token_is_not_refreshed_unless_forced(provider: Provider) -> None:
    provider.routes["/token"] = token_answer()
    connection = oauth_connection(provider, expires_in=3600)
    assert not connection_refresh_tokens(actor=SYSTEM, connection=connection, force=False).refreshed
    assert provider.calls("/token") == []
    assert connection_refresh_tokens(actor=SYSTEM, connection=connection, force=True).refreshed


@pytest.mark.django_db
def test_health_check_refreshes_an_expired_token_first(provider: Provider) -> None:
    provider.routes["/token"] = token_answer()
    provider.routes["/me"] = lambda seen: Answer(
        200 if seen.headers.get("Authorization") == "Bearer new-access-token" else 401
    )
    connection = oauth_connection(provider)
    assert connection_check_health(actor=SYSTEM, connection=connection).status == "healthy"
    assert len(provider.calls("/token")) == 1


@pytest.mark.django_db
def test_plain_http_token_url_off_loopback_is_refused(provider: Provider) -> None:
    connection = oauth_connection(provider)
    version = connection.resolved_version
    assert version is not None
    version.definition["authentication"]["tokenUrl"] = "http://auth.example.com/token"
    version.save()
    with pytest.raises(UpstreamError, match="https"):
        connection_refresh_tokens(actor=SYSTEM, connection=connection)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_refreshes_call_the_token_endpoint_once(provider: Provider) -> None:
    calls = 0
    lock = threading.Lock()

    def slow_token(seen: Seen) -> Answer:
        nonlocal calls
        with lock:
            calls += 1
        return Answer(200, token_answer().body, delay=0.3)

    provider.routes["/token"] = slow_token
    connection = oauth_connection(provider)
    stale = [Connection.objects.get(pk=connection.pk) for _ in range(10)]
    barrier = threading.Barrier(10)
    results: list[Any] = []
    errors: list[BaseException] = []

    def worker(row: Connection) -> None:
        try:
            barrier.wait()
            results.append(connection_refresh_tokens(actor=SYSTEM, connection=row, force=False))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=worker, args=(row,)) for row in stale]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert calls == 1
    assert len(results) == 10
    assert sum(1 for r in results if r.refreshed) == 1
    for result in results:
        tokens = decrypt_json(result.connection.oauth_tokens)
        assert tokens["access_token"] == "new-access-token"
