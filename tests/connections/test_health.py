"""Health checks against a real HTTP server on loopback."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from connections.models import Connection, Health, Status
from connections.services.connections import connection_set_status
from connections.services.health import connection_check_health, connections_check_health_bulk
from projects.models import AuditEntry
from projects.services import Actor
from tests.factories import make_connection, make_profile, make_project
from tests.provider import Answer, Provider, provider_server

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
SECRET = "sk_live_health_0123456789"


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        yield server


def api_key_connection(provider: Provider, **definition: Any) -> Connection:
    profile = make_profile(make_project(), base_url=provider.url, health_path="/me", **definition)
    return make_connection(profile, config={"api_key": SECRET})


def test_200_is_healthy_and_sends_the_key(provider: Provider) -> None:
    provider.routes["/me"] = Answer(200)
    connection = api_key_connection(provider)
    result = connection_check_health(actor=SYSTEM, connection=connection)
    assert result.status == Health.HEALTHY and result.http_status == 200
    (seen,) = provider.calls("/me")
    assert seen.headers["Authorization"] == f"Bearer {SECRET}"
    connection.refresh_from_db()
    assert connection.health == Health.HEALTHY
    assert connection.last_healthy_at == connection.health_checked_at is not None
    assert connection.health_error == ""
    assert connection.status == Status.ACTIVE


def test_api_key_goes_in_the_named_header(provider: Provider) -> None:
    provider.routes["/me"] = Answer(200)
    connection = api_key_connection(provider, header_name="X-API-Key")
    connection_check_health(actor=SYSTEM, connection=connection)
    (seen,) = provider.calls("/me")
    assert seen.headers["X-API-Key"] == SECRET
    assert "Authorization" not in seen.headers


def test_401_needs_reauth(provider: Provider) -> None:
    provider.routes["/me"] = Answer(401, {"error": "bad key"})
    connection = api_key_connection(provider)
    result = connection_check_health(actor=SYSTEM, connection=connection)
    assert result.status == Health.NEEDS_REAUTH
    connection.refresh_from_db()
    assert connection.status == Status.NEEDS_REAUTH
    assert connection.health == Health.NEEDS_REAUTH
    assert connection.last_healthy_at is None
    assert "401" in connection.health_error
    entry = AuditEntry.objects.get(action="connection.health_changed")
    assert entry.after is not None and entry.after["health"] == "needs_reauth"


def test_500_is_unhealthy_then_200_recovers(provider: Provider) -> None:
    provider.routes["/me"] = Answer(500, {"error": "boom"})
    connection = api_key_connection(provider)
    assert connection_check_health(actor=SYSTEM, connection=connection).status == "unhealthy"
    connection.refresh_from_db()
    assert connection.status == Status.ERROR and "500" in connection.health_error
    provider.routes["/me"] = Answer(200)
    assert connection_check_health(actor=SYSTEM, connection=connection).status == "healthy"
    connection.refresh_from_db()
    assert connection.status == Status.ACTIVE and connection.health_error == ""


@override_settings(CONNECTION_HTTP_TIMEOUT=(1.0, 0.3))
def test_timeout_is_unhealthy(provider: Provider) -> None:
    provider.routes["/me"] = Answer(200, delay=1.5)
    connection = api_key_connection(provider)
    started = time.monotonic()
    result = connection_check_health(actor=SYSTEM, connection=connection)
    assert time.monotonic() - started < 1.4
    assert result.status == Health.UNHEALTHY
    assert "in time" in result.detail


def test_refused_connection_is_unhealthy_and_redacted(provider: Provider) -> None:
    connection = api_key_connection(provider)
    # The key in the URL too (a definition may put it there): never in the recorded error.
    version = connection.resolved_version
    assert version is not None
    version.definition["baseUrl"] = "http://127.0.0.1:9/${credentials.api_key}"
    version.save()
    result = connection_check_health(actor=SYSTEM, connection=connection)
    assert result.status == Health.UNHEALTHY
    connection.refresh_from_db()
    assert SECRET not in connection.health_error and connection.health_error


def test_disabled_connection_is_never_checked(provider: Provider) -> None:
    """A disabled connection: no call with its stored credentials, nothing recorded (issue 30:
    a check used to call the provider and rewrite its health)."""
    provider.routes["/me"] = Answer(200)
    connection = api_key_connection(provider)
    connection_set_status(actor=SYSTEM, connection=connection, status=Status.DISABLED)
    result = connection_check_health(actor=SYSTEM, connection=connection)
    bulk = connections_check_health_bulk(actor=SYSTEM, connections=[connection])
    assert result.status == bulk[connection.pk].status == Health.UNKNOWN
    assert "disabled" in result.detail
    assert provider.calls("/me") == []
    connection.refresh_from_db()
    assert connection.status == Status.DISABLED and connection.health == Health.UNKNOWN
    assert connection.health_checked_at is None and not connection.health_checks.exists()


def test_redirects_are_not_followed(provider: Provider) -> None:
    provider.routes["/me"] = Answer(302, headers={"Location": f"{provider.url}/elsewhere"})
    provider.routes["/elsewhere"] = Answer(200)
    connection = api_key_connection(provider)
    assert connection_check_health(actor=SYSTEM, connection=connection).status == "unhealthy"
    assert provider.calls("/elsewhere") == []


def test_credentials_in_base_url_are_quoted(provider: Provider) -> None:
    """An end user's value cannot change the host or path: it is URL-quoted."""
    provider.routes["/x%2F..%2Fadmin/me"] = Answer(200)
    profile = make_profile(
        make_project(),
        base_url=provider.url + "/${credentials.tenant}",
        health_path="/me",
        required_fields=("api_key",),
        optional_fields=("tenant",),
    )
    connection = make_connection(profile, config={"api_key": SECRET, "tenant": "x/../admin"})
    connection_check_health(actor=SYSTEM, connection=connection)
    (seen,) = provider.seen
    assert seen.path == "/x%2F..%2Fadmin/me"


def test_basic_auth(provider: Provider) -> None:
    provider.routes["/me"] = Answer(200)
    profile = make_profile(
        make_project(),
        auth_type="basic",
        base_url=provider.url,
        health_path="/me",
        required_fields=("password",),
        optional_fields=("username",),
    )
    connection = make_connection(profile, config={"username": "ann", "password": SECRET})
    assert connection_check_health(actor=SYSTEM, connection=connection).status == "healthy"
    (seen,) = provider.calls("/me")
    assert (
        seen.headers["Authorization"]
        == "Basic " + base64.b64encode(f"ann:{SECRET}".encode()).decode()
    )


def test_oauth_bearer_token(provider: Provider) -> None:
    provider.routes["/me"] = Answer(200)
    profile = make_profile(
        make_project(),
        auth_type="oauth2",
        base_url=provider.url,
        health_path="/me",
        required_fields=(),
    )
    connection = make_connection(
        profile,
        config={},
        tokens={
            "access_token": "at-123456789",
            "refresh_token": "rt",
            "expires_at": time.time() + 3600,
        },
    )
    assert connection_check_health(actor=SYSTEM, connection=connection).status == "healthy"
    assert provider.calls("/me")[0].headers["Authorization"] == "Bearer at-123456789"


def test_no_health_check_in_the_definition_is_unknown() -> None:
    profile = make_profile(make_project())
    connection = make_connection(profile)
    result = connection_check_health(actor=SYSTEM, connection=connection)
    assert result.status == Health.UNKNOWN and "no healthCheck" in result.detail
    connection.refresh_from_db()
    assert connection.health == Health.UNKNOWN and connection.health_checked_at is not None


def test_bulk_checks_in_parallel(provider: Provider) -> None:
    provider.routes["/me"] = Answer(200, delay=0.3)
    profile = make_profile(make_project(), base_url=provider.url, health_path="/me")
    rows = [make_connection(profile) for _ in range(6)]
    started = time.monotonic()
    results = connections_check_health_bulk(actor=SYSTEM, connections=rows)
    assert time.monotonic() - started < 6 * 0.3  # not one after the other
    assert {r.status for r in results.values()} == {"healthy"}
    assert Connection.objects.filter(health=Health.HEALTHY).count() == 6


def test_secrets_never_logged(provider: Provider, caplog: pytest.LogCaptureFixture) -> None:
    provider.routes["/me"] = Answer(401)
    caplog.set_level(logging.DEBUG)
    connection = api_key_connection(provider)
    connection_check_health(actor=SYSTEM, connection=connection)
    assert caplog.records and SECRET not in caplog.text


def test_a_failed_check_names_the_host_and_error_class_and_is_kept(provider: Provider) -> None:
    from connections.models import HealthCheck

    connection = api_key_connection(provider)
    version = connection.resolved_version
    assert version is not None
    version.definition["baseUrl"] = "http://127.0.0.1:9"  # nothing listens: refused
    version.save()
    first = connection_check_health(actor=SYSTEM, connection=connection)
    assert first.host == "127.0.0.1" and first.error_class == "ConnectionError"
    assert first.detail == "Could not reach 127.0.0.1 (ConnectionError)."
    connection_check_health(actor=SYSTEM, connection=connection)
    history = list(HealthCheck.objects.filter(connection=connection).order_by("id"))
    assert [(h.status, h.host, h.error_class) for h in history] == [
        (Health.UNHEALTHY, "127.0.0.1", "ConnectionError")
    ] * 2
