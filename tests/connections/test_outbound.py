"""Security of outbound calls and links (from a review): no SSRF into private networks, no
redirect-following token calls, exact issuer origins, links revoked with their purpose."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client

from connections.models import Connection, Status
from connections.services.connect import connect_session_create
from connections.services.connections import connection_set_status
from connections.services.health import connection_check_health
from connections.services.oauth import _same_origin
from connections.services.tokens import UpstreamError, connection_refresh_tokens
from core.outbound import DestinationRefused, check_destination
from projects.services import Actor
from tests.factories import make_connection, make_profile, make_project
from tests.provider import Answer, Provider, provider_server

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        server.routes["/me"] = Answer(200)
        yield server


@pytest.mark.parametrize(
    "url",
    [
        "http://api.example.com/me",  # not https
        "https://127.0.0.1/me",
        "https://10.0.0.5/me",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/me",
        "https://localhost/me",
        "ftp://example.com/x",
    ],
)
def test_private_or_plain_destinations_are_refused_in_production(settings: Any, url: str) -> None:
    settings.CONNECTION_ALLOW_PRIVATE_NETWORK = False
    with pytest.raises(DestinationRefused):
        check_destination(url)


def test_public_https_is_allowed(settings: Any) -> None:
    settings.CONNECTION_ALLOW_PRIVATE_NETWORK = False
    check_destination("https://93.184.216.34/me")  # a public address, no DNS needed


def test_health_check_never_calls_a_private_address(settings: Any, provider: Provider) -> None:
    profile = make_profile(make_project(), base_url=provider.url, health_path="/me")
    connection = make_connection(profile)
    settings.CONNECTION_ALLOW_PRIVATE_NETWORK = False
    result = connection_check_health(actor=SYSTEM, connection=connection)
    assert result.status == "unhealthy" and "https" in result.detail
    assert provider.seen == []


def test_token_refresh_never_calls_a_private_address(settings: Any, provider: Provider) -> None:
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
        tokens={"access_token": "a", "refresh_token": "r", "expires_at": time.time() - 5},
    )
    settings.CONNECTION_ALLOW_PRIVATE_NETWORK = False
    with pytest.raises(UpstreamError):
        connection_refresh_tokens(actor=SYSTEM, connection=connection)
    assert provider.seen == []


def test_token_calls_do_not_follow_redirects(provider: Provider) -> None:
    provider.routes["/token"] = Answer(307, headers={"Location": provider.url + "/elsewhere"})
    provider.routes["/elsewhere"] = Answer(200, {"access_token": "x", "token_type": "bearer"})
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
        tokens={"access_token": "a", "refresh_token": "r", "expires_at": time.time() - 5},
    )
    with pytest.raises(UpstreamError):
        connection_refresh_tokens(actor=SYSTEM, connection=connection)
    assert provider.calls("/elsewhere") == []


def test_dot_dot_cannot_climb_the_path(provider: Provider) -> None:
    profile = make_profile(
        make_project(),
        base_url=provider.url + "/accounts/${credentials.acct}",
        health_path="/me",
        optional_fields=("acct",),
    )
    connection = make_connection(profile, config={"api_key": "k-0123456789", "acct": ".."})
    result = connection_check_health(actor=SYSTEM, connection=connection)
    assert result.status == "unknown" and "acct" in result.detail
    assert provider.seen == []


def test_issuer_must_match_the_origin_exactly() -> None:
    url = "https://auth.example.com/oauth/authorize"
    assert _same_origin("https://auth.example.com", url)
    assert _same_origin("https://auth.example.com/", url)
    assert not _same_origin("https:", url)
    assert not _same_origin("https://auth.example.com.evil.net", url)
    assert not _same_origin("http://auth.example.com", url)


def test_disabling_revokes_links_and_reauth_keeps_it_disabled(provider: Provider) -> None:
    provider.routes["/me"] = Answer(200)
    profile = make_profile(make_project(), base_url=provider.url, health_path="/me")
    connection = make_connection(profile)
    early = connect_session_create(
        actor=SYSTEM,
        project=profile.project,
        connector_profile_id=profile.public_id,
        account_id=connection.public_id,
    )
    connection_set_status(actor=SYSTEM, connection=connection, status=Status.DISABLED)
    assert Client().get(urlsplit(early.url).path).status_code == 410  # revoked
    # A link made after disabling re-authenticates, but the account stays disabled.
    late = connect_session_create(
        actor=SYSTEM,
        project=profile.project,
        connector_profile_id=profile.public_id,
        account_id=connection.public_id,
    )
    done = Client().post(urlsplit(late.url).path, {"config_api_key": "sk_new_0123456789"})
    assert done.status_code == 200
    assert Connection.objects.get(pk=connection.pk).status == Status.DISABLED


def test_completing_a_migration_revokes_its_links() -> None:
    from profiles.services import profile_create
    from rollouts.services import migration_complete, migration_create, migration_link

    project = make_project()
    old = make_profile(project, "acme_crm", "old")
    new = profile_create(actor=SYSTEM, project=project, connector_key="acme_crm", name="new")
    account = make_connection(old)
    migration = migration_create(
        actor=SYSTEM, project=project, from_profile=old, to_profile=new, title="t"
    )
    _notice, url = migration_link(actor=SYSTEM, migration=migration, connection=account)
    assert Client().get(urlsplit(url).path).status_code == 200
    migration_complete(actor=SYSTEM, migration=migration)
    assert Client().get(urlsplit(url).path).status_code == 410
