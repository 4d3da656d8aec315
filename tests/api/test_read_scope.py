"""A read-scoped key reads (issue 28, finding 4): it never triggers a health check, a token
refresh or a write, not even through a GET. With a read key ``GET .../health`` answers the
recorded result without calling the provider, and ``refresh_oauth_tokens=true`` is 403
wherever it is accepted. A full key keeps both meanings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client

from connections.models import Connection
from projects.crypto import decrypt_json
from projects.models import ApiKeyScope
from runtime.models import RequestLog
from tests.api.test_connections_api import (
    BASE,
    OLD_ACCESS,
    World,
    assert_error,
    checked,
    oauth_connection,
)
from tests.api.test_connections_api import world as world
from tests.api.test_scopes import _snapshot
from tests.factories import make_api_key
from tests.provider import Answer, Provider, provider_server

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        yield server


def reader(world: World) -> Client:
    raw = make_api_key(world.project, "reader", scope=ApiKeyScope.READ)[1]
    return Client(headers={"Authorization": f"Bearer {raw}"})


def test_health_with_a_read_key_answers_the_stored_result_and_calls_nobody(
    world: World, provider: Provider
) -> None:
    provider.routes["/me"] = Answer(200, {"me": "ok"})
    row = checked(world, provider)
    read = reader(world)
    before = _snapshot()

    response = read.get(f"{BASE}/{row.public_id}/health")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "unknown", "checked_at": None, "detail": ""}
    assert provider.calls("/me") == []
    assert _snapshot() == before  # no health row, no status, no event, no audit entry

    # A full key still checks, and records; the read key then reads that record.
    checked_now = world.api.get(f"{BASE}/{row.public_id}/health").json()
    assert checked_now["status"] == "healthy" and len(provider.calls("/me")) == 1
    before = _snapshot()
    stored = read.get(f"{BASE}/{row.public_id}/health").json()
    assert (stored["status"], stored["checked_at"]) == ("healthy", checked_now["checked_at"])
    assert len(provider.calls("/me")) == 1
    assert _snapshot() == before


@pytest.mark.parametrize(
    "path",
    [
        "/{pk}",
        "/{pk}/resources?resource_ids=a",
        "/{pk}/resources/children",
        "/{pk}/resources/search?query=a",
    ],
)
def test_refresh_oauth_tokens_with_a_read_key_is_403_and_refreshes_nothing(
    world: World, provider: Provider, path: str
) -> None:
    provider.routes["/token"] = Answer(200, {"access_token": "at-new", "expires_in": 3600})
    row = oauth_connection(world, provider)
    read = reader(world)
    before = _snapshot()
    url = BASE + path.format(pk=row.public_id)
    separator = "&" if "?" in url else "?"
    response = read.get(f"{url}{separator}refresh_oauth_tokens=true")
    body = assert_error(response, 403, "forbidden")
    assert "read-only" in body["message"] and "refresh_oauth_tokens" in body["message"]
    assert provider.calls("/token") == []
    assert _snapshot() == before
    assert decrypt_json(Connection.objects.get(pk=row.pk).oauth_tokens)["access_token"] == (
        OLD_ACCESS
    )
    # Without the flag the read key reads.
    if path == "/{pk}":
        assert read.get(url).status_code == 200


def test_the_openapi_document_says_what_a_read_key_gets(client: Client) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    health = paths["/api/v1/connections/{connection_id}/health"]["get"]
    assert "read-scoped key nothing is sent" in health["description"]
    for path in (
        "/api/v1/connections/{connection_id}",
        "/api/v1/connections/{connection_id}/resources",
        "/api/v1/connections/{connection_id}/resources/children",
        "/api/v1/connections/{connection_id}/resources/search",
    ):
        assert "403" in paths[path]["get"]["responses"], path


@pytest.mark.parametrize(
    "path",
    [
        "/{pk}/resources?resource_ids=a",
        "/{pk}/resources/children",
        "/{pk}/resources/search?query=a",
    ],
)
def test_resources_with_a_read_key_are_403_and_call_nobody(
    world: World, provider: Provider, path: str
) -> None:
    """The resources endpoints run the definition's actions through the provider (a token
    refresh, a needs_reauth status and a request-log row may follow): a read key may not."""
    provider.routes["/token"] = Answer(200, {"access_token": "at-new", "expires_in": 3600})
    row = oauth_connection(world, provider)
    read = reader(world)
    before = _snapshot()
    logged = RequestLog.objects.count()
    called = len(provider.seen)

    response = read.get(BASE + path.format(pk=row.public_id))

    body = assert_error(response, 403, "forbidden")
    assert "read-only" in body["message"] and "resources" in body["message"]
    assert len(provider.seen) == called  # no action, no token refresh
    assert _snapshot() == before
    assert RequestLog.objects.count() == logged
