"""Connect sessions (API and service) and the hosted API-key connect page."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from connections import counters
from connections.models import Connection, ConnectSession, Health, Status
from connections.services.connect import connect_session_create
from profiles.models import ConnectorProfile
from profiles.services import profile_create
from projects.crypto import decrypt_json
from projects.models import AuditEntry, Project
from projects.services import Actor
from tests.factories import (
    make_api_key,
    make_connection,
    make_profile,
    make_project,
    update_connections,
)
from tests.provider import Answer, Provider, provider_server

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
SECRET = "sk_live_CONNECT_0123456789"


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        server.routes["/me"] = lambda seen: Answer(
            200 if seen.headers.get("Authorization") == f"Bearer {SECRET}" else 401
        )
        yield server


@pytest.fixture
def profile(provider: Provider) -> ConnectorProfile:
    return make_profile(
        make_project(), base_url=provider.url, health_path="/me", optional_fields=("region",)
    )


def link(profile: ConnectorProfile, **kw: Any) -> tuple[str, str]:
    kw.setdefault("origin_owner_id", "cust-42")
    created = connect_session_create(
        actor=SYSTEM, project=profile.project, connector_profile_id=profile.public_id, **kw
    )
    return created.token, urlsplit(created.url).path


# --- Sessions ---------------------------------------------------------------------------------


def test_token_is_random_hashed_and_expires_in_30_minutes(profile: ConnectorProfile) -> None:
    token, path = link(profile)
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    session = ConnectSession.objects.get()
    assert session.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(list(ConnectSession.objects.values()))
    assert token not in str(list(AuditEntry.objects.values()))
    lifetime = session.expires_at - session.created_at
    assert timedelta(minutes=29) < lifetime <= timedelta(minutes=30, seconds=1)
    assert path == f"/connect/{token}/"


def api(project: Project) -> tuple[Client, dict[str, str]]:
    _key, raw = make_api_key(project)
    return Client(), {"Authorization": f"Bearer {raw}"}


def test_api_creates_a_session(profile: ConnectorProfile) -> None:
    client, headers = api(profile.project)
    response = client.post(
        "/api/v1/connect_sessions",
        {
            "origin_owner_id": "cust-1",
            "origin_owner_name": "Ann",
            "email": "ann@x.example",
            "connector_profile_id": profile.public_id,
            "expires_in": 600,
        },
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"token", "url", "expires_at"}
    assert body["url"].endswith(f"/connect/{body['token']}/")
    assert Client().get(urlsplit(body["url"]).path).status_code == 200


def test_api_routes_by_connector_key_to_the_default_profile(profile: ConnectorProfile) -> None:
    client, headers = api(profile.project)
    response = client.post(
        "/api/v1/connect_sessions",
        {"origin_owner_id": "c", "origin_owner_name": "C", "connector_key": "acme_crm"},
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 201
    assert ConnectSession.objects.get().profile_id == profile.pk


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"origin_owner_name": "x", "connector_key": "acme_crm"}, 400, "origin_owner_id"),
        ({"origin_owner_id": "c", "origin_owner_name": "x"}, 400, "connector_profile_id"),
        (
            {"origin_owner_id": "c", "origin_owner_name": "x", "connector_key": "nope"},
            400,
            "connector_key",
        ),
        (
            {
                "origin_owner_id": "c",
                "origin_owner_name": "x",
                "connector_key": "acme_crm",
                "expires_in": 432001,
            },
            400,
            "expires_in",
        ),
        (
            {
                "origin_owner_id": "c",
                "origin_owner_name": "x",
                "connector_key": "acme_crm",
                "expires_in": 0,
            },
            400,
            "expires_in",
        ),
    ],
)
def test_api_refuses_bad_input(
    profile: ConnectorProfile, body: dict[str, Any], status: int, field: str
) -> None:
    client, headers = api(profile.project)
    response = client.post(
        "/api/v1/connect_sessions", body, content_type="application/json", headers=headers
    )
    assert response.status_code == status, response.content
    assert field in str(response.json()["fields"])
    assert ConnectSession.objects.count() == 0


def test_another_projects_profile_or_account_is_404(profile: ConnectorProfile) -> None:
    other = make_profile(make_project(), "acme_crm", "theirs")
    theirs = make_connection(other)
    client, headers = api(profile.project)
    for body in (
        {"origin_owner_id": "c", "connector_profile_id": other.public_id},
        {
            "origin_owner_id": "c",
            "connector_profile_id": profile.public_id,
            "account_id": theirs.public_id,
        },
    ):
        response = client.post(
            "/api/v1/connect_sessions", body, content_type="application/json", headers=headers
        )
        assert response.status_code == 404
    assert (
        Client().post("/api/v1/connect_sessions", {}, content_type="application/json").status_code
        == 401
    )


# --- The hosted page ----------------------------------------------------------------------------


def test_api_key_connect_creates_the_connection(
    profile: ConnectorProfile, provider: Provider
) -> None:
    _token, path = link(profile, origin_owner_name="Ann", email="ann@customer.example")
    browser = Client()
    page = browser.get(path)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'type="password"' in html and "Acme CRM" in html
    assert page["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]
    assert "script-src 'none'" in page["Content-Security-Policy"]
    assert 'class="navbar' not in html  # no dashboard chrome
    done = browser.post(path, {"config_api_key": SECRET, "config_region": "eu"})
    assert done.status_code == 200 and b"is connected" in done.content
    connection = Connection.objects.get()
    assert connection.origin_owner_id == "cust-42" and connection.email == "ann@customer.example"
    assert decrypt_json(connection.config_secrets) == {"api_key": SECRET}
    assert connection.config_values == {"region": "eu"}
    assert connection.health == Health.HEALTHY
    assert counters.stored() == counters.fresh()  # counted as healthy, not as "not checked"
    assert counters.total(connection.project_id, health=Health.HEALTHY) == 1
    assert len(provider.calls("/me")) == 1
    assert SECRET not in done.content.decode()
    # single use
    assert browser.get(path).status_code == 410
    assert browser.post(path, {"config_api_key": SECRET}).status_code == 410
    assert Connection.objects.count() == 1


def test_wrong_credentials_save_nothing(profile: ConnectorProfile) -> None:
    _token, path = link(profile)
    page = Client().post(path, {"config_api_key": "sk_wrong_0000000000"})
    assert page.status_code == 400
    assert b"rejected these credentials" in page.content
    assert b"sk_wrong_0000000000" not in page.content  # secrets are not echoed back
    assert Connection.objects.count() == 0
    assert ConnectSession.objects.get().used_at is None


def test_provider_down_saves_nothing(profile: ConnectorProfile, provider: Provider) -> None:
    provider.routes["/me"] = Answer(503)
    _token, path = link(profile)
    page = Client().post(path, {"config_api_key": SECRET})
    assert page.status_code == 400 and b"could not verify" in page.content
    assert Connection.objects.count() == 0


def test_missing_required_field(profile: ConnectorProfile, provider: Provider) -> None:
    _token, path = link(profile)
    page = Client().post(path, {"config_region": "eu"})
    assert page.status_code == 400 and b"is required" in page.content
    assert b'value="eu"' in page.content  # non-secret values kept
    assert provider.seen == [] and Connection.objects.count() == 0


@pytest.mark.parametrize("kind", ["unknown", "expired"])
def test_unusable_links(profile: ConnectorProfile, kind: str) -> None:
    token, path = link(profile)
    if kind == "expired":
        ConnectSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    else:
        path = path.replace(token, token[:-4] + "AAAA")
    browser = Client()
    page = browser.get(path)
    assert page.status_code == (410 if kind == "expired" else 404)
    assert page["Referrer-Policy"] == "no-referrer"
    assert browser.post(path, {"config_api_key": SECRET}).status_code in (404, 410)
    assert browser.get(path + "oauth/start").status_code in (404, 410)
    assert Connection.objects.count() == 0


def test_reauthentication_replaces_credentials_and_moves_profile(
    profile: ConnectorProfile,
) -> None:
    old = profile_create(
        actor=SYSTEM,
        project=profile.project,
        connector_key="acme_crm",
        name="legacy",
        pin="1.0.0",
    )
    connection = make_connection(old, "cust-7", config={"api_key": "sk_old_000000000000"})
    update_connections(Connection.objects.filter(pk=connection.pk), status=Status.NEEDS_REAUTH)
    _token, path = link(profile, account_id=connection.public_id, origin_owner_id="")
    page = Client().get(path)
    assert b"Reconnect" in page.content
    done = Client().post(path, {"config_api_key": SECRET})
    assert done.status_code == 200 and b"reconnected" in done.content
    connection.refresh_from_db()
    assert Connection.objects.count() == 1
    assert decrypt_json(connection.config_secrets) == {"api_key": SECRET}
    assert connection.profile_id == profile.pk
    assert connection.moved_from_profile_id == old.pk and connection.moved_at is not None
    assert connection.status == Status.ACTIVE
    assert counters.stored() == counters.fresh()
    assert AuditEntry.objects.filter(action="connection.reauthenticated").count() == 1


def test_reauth_across_connectors_is_refused(profile: ConnectorProfile) -> None:
    other = make_profile(profile.project, "other_crm", "other")
    connection = make_connection(other)
    client, headers = api(profile.project)
    response = client.post(
        "/api/v1/connect_sessions",
        {
            "origin_owner_id": "c",
            "connector_profile_id": profile.public_id,
            "account_id": connection.public_id,
        },
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 400 and "account_id" in str(response.json()["fields"])


def test_logs_never_carry_tokens_codes_or_states(settings: Any) -> None:
    import logging

    from config.logging import RedactSecretsFilter, redact

    token = "lmRYIxur96Uo9XrXu3aJIxeCs24z87Om9vqp_2S88E0"
    line = (
        f"Bad Request: /connect/{token}/ and GET /connect/oauth/callback?code=abc123&state=xyz"
        "&iss=https://a.example"
    )
    cleaned = redact(line)
    assert token not in cleaned and "abc123" not in cleaned and "xyz" not in cleaned
    assert "/connect/oauth/callback" in cleaned and "iss=https://a.example" in cleaned
    record = logging.LogRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "Bad Request: %s",
        (f"/connect/{token}/",),
        None,
    )
    RedactSecretsFilter().filter(record)
    assert token not in record.getMessage()
    assert settings.LOGGING["handlers"]["console"]["filters"][0] == "redact"


def test_development_server_request_lines_are_redacted() -> None:
    """runserver logs every request line through django.server: it must pass the filter."""
    import io
    import logging

    logger = logging.getLogger("django.server")
    handlers = [
        h
        for h in logger.handlers
        if any(f.__class__.__name__ == "RedactSecretsFilter" for f in h.filters)
    ]
    assert handlers, "django.server must log through the redacting handler"
    stream = io.StringIO()
    handler = handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    old = handler.setStream(stream)
    try:
        logger.info(
            '"%s" %s %s',
            "GET /connect/oauth/callback?code=SECRETCODE123&state=S1 HTTP/1.1",
            200,
            901,
        )
        logger.info(
            '"%s" %s %s',
            "GET /connect/_dq5udOnIqzHl15-C6dOpGcuQO6fvWADuQvZz_T7bDU/ HTTP/1.1",
            200,
            1,
        )
    finally:
        handler.setStream(old)
    text = stream.getvalue()
    assert "SECRETCODE123" not in text and "_dq5udOnIqzHl15" not in text
    assert "/connect/oauth/callback" in text
