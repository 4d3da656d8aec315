"""Health checks and token refresh end at their wall-clock deadline (HEALTH_CHECK_TIMEOUT,
OAUTH_TOKEN_TIMEOUT) against a real loopback server that drips one byte a second, which no
per-read timeout ever stops; and they never call a private address in disguise."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from connections.models import Connection, Health
from connections.services.health import connection_check_health
from connections.services.tokens import UpstreamError, connection_refresh_tokens
from projects.crypto import decrypt_json
from projects.services import Actor
from tests.factories import make_connection, make_profile, make_project
from tests.provider import Answer, Provider, provider_server

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        yield server


@pytest.mark.parametrize("part", ["headers", "body"])
@override_settings(HEALTH_CHECK_TIMEOUT=2)
def test_a_dripping_health_check_is_unhealthy_at_the_deadline(
    provider: Provider, part: str
) -> None:
    """Headers: cut at the deadline. Body: not read at all (the status decides)."""
    provider.routes["/me"] = Answer(200, {"pad": "x" * 50}, drip=part)
    profile = make_profile(make_project(), base_url=provider.url, health_path="/me")
    connection = make_connection(profile, config={"api_key": "k-0123456789"})
    started = time.monotonic()
    result = connection_check_health(actor=SYSTEM, connection=connection)
    assert time.monotonic() - started < 2 + 1
    if part == "headers":
        assert result.status == Health.UNHEALTHY and "in time" in result.detail
    else:
        assert result.status == Health.HEALTHY


@override_settings(OAUTH_TOKEN_TIMEOUT=2)
def test_a_dripping_token_refresh_fails_at_the_deadline_and_keeps_the_tokens(
    provider: Provider,
) -> None:
    provider.routes["/token"] = Answer(
        200,
        {"access_token": "new", "token_type": "bearer", "expires_in": 3600, "pad": "x" * 50},
        drip="body",
    )
    profile = make_profile(
        make_project(),
        auth_type="oauth2",
        required_fields=(),
        token_url=provider.url + "/token",
        setup_fields=("client_id", "client_secret"),
        setup={"client_id": "c", "client_secret": "s-0123456789"},
    )
    connection = make_connection(
        profile,
        config={},
        tokens={"access_token": "old", "refresh_token": "r", "expires_at": time.time() - 5},
    )
    started = time.monotonic()
    with pytest.raises(UpstreamError, match="in time"):
        connection_refresh_tokens(actor=SYSTEM, connection=connection)
    assert time.monotonic() - started < 2 + 1
    row = Connection.objects.get(pk=connection.pk)
    assert decrypt_json(row.oauth_tokens)["access_token"] == "old"


@pytest.mark.parametrize(
    "base_url",
    ["https://[::127.0.0.1]:8042", "https://[64:ff9b::7f00:1]:8042", "https://224.0.0.1"],
)
def test_a_health_check_to_a_hidden_private_address_is_refused(
    settings: Any, base_url: str
) -> None:
    """``[::127.0.0.1]`` reached the connect stage of a health check (production settings)."""
    settings.CONNECTION_ALLOW_PRIVATE_NETWORK = False
    profile = make_profile(make_project(), base_url=base_url, health_path="/me")
    connection = make_connection(profile, config={"api_key": "k-0123456789"})
    result = connection_check_health(actor=SYSTEM, connection=connection)
    assert result.status == Health.UNHEALTHY and result.error_class == "DestinationRefused"
    assert "private or reserved" in result.detail
