"""API key scopes (docs/api.md "Authentication"): a read key may only GET; every other method is
403 ``forbidden`` and changes nothing. The write endpoints are read off the ninja router, so a
new write endpoint is covered without editing this file."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.apps import apps
from django.test import Client

from api.api import api
from projects.models import ApiKey, ApiKeyScope
from tests.api.test_auth import assert_error_body
from tests.conftest import Tenancy
from tests.factories import connector_yaml, make_api_key, make_connection, make_profile

READ_METHODS = {"GET", "HEAD", "OPTIONS"}


def _operations() -> list[tuple[str, str]]:
    found = []
    for prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            for operation in path_view.operations:
                for method in operation.methods:
                    found.append((method, prefix + path))
    return found


WRITES = sorted({(m, p) for m, p in _operations() if m not in READ_METHODS})
READS = sorted({(m, p) for m, p in _operations() if m == "GET" and "{" not in p})


def test_the_router_has_write_endpoints() -> None:
    # The parametrised test below would pass vacuously on an empty list.
    assert ("POST", "/connectors/push") in WRITES and len(WRITES) >= 8


def _snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of the project's own apps (ApiKey.last_used_at aside: auth touches it)."""
    rows = {}
    for label in ("projects", "events", "connectors", "profiles", "connections", "rollouts"):
        for model in apps.get_app_config(label).get_models():
            values = list(model._default_manager.order_by("pk").values())
            if model is ApiKey:
                for value in values:
                    value.pop("last_used_at")
            rows[model._meta.label] = values
    return rows


@pytest.fixture
def world(tenancy: Tenancy) -> dict[str, str]:
    profile = make_profile(tenancy.project)
    connection = make_connection(profile)
    return {
        "key": "acme_crm",
        "version": "1.0.0",
        "profile_id": str(profile.public_id),
        "connection_id": str(connection.public_id),
        "migration_id": "00000000-0000-4000-8000-000000000001",
    }


def _url(path: str, world: dict[str, str]) -> str:
    return "/api/v1" + re.sub(r"\{(\w+)\}", lambda m: world.get(m.group(1), "1"), path)


@pytest.mark.parametrize(("method", "path"), WRITES, ids=[f"{m} {p}" for m, p in WRITES])
def test_read_key_on_every_write_endpoint_is_403_and_changes_nothing(
    client: Client, tenancy: Tenancy, world: dict[str, str], method: str, path: str
) -> None:
    raw = make_api_key(tenancy.project, "reader", scope=ApiKeyScope.READ)[1]
    before = _snapshot()
    response = client.generic(
        method,
        _url(path, world),
        data=connector_yaml(version="2.0.0") if path.endswith("/push") else b'{"name": "x"}',
        content_type="application/yaml" if path.endswith("/push") else "application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    body = assert_error_body(response, 403, "forbidden")
    assert "read-only" in body["message"]
    assert raw not in response.content.decode()
    assert _snapshot() == before


@pytest.mark.parametrize("path", [p for _, p in READS])
def test_read_key_may_get(client: Client, tenancy: Tenancy, path: str) -> None:
    raw = make_api_key(tenancy.project, "reader", scope=ApiKeyScope.READ)[1]
    response = client.get("/api/v1" + path, headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200


def test_full_key_still_writes(client: Client, tenancy: Tenancy, world: dict[str, str]) -> None:
    raw = make_api_key(tenancy.project, "writer")[1]
    assert ApiKey.objects.get(name="writer").scope == ApiKeyScope.FULL
    response = client.patch(
        _url("/connections/{connection_id}", world),
        data=b'{"name": "renamed"}',
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "renamed"


def test_the_database_refuses_an_unknown_scope(tenancy: Tenancy) -> None:
    from django.db import IntegrityError, transaction

    api_key = make_api_key(tenancy.project)[0]
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiKey.objects.filter(pk=api_key.pk).update(scope="admin")


EVERY = sorted(set(_operations()))


@pytest.mark.parametrize(("method", "path"), EVERY, ids=[f"{m} {p}" for m, p in EVERY])
def test_agent_key_on_every_endpoint_is_403_and_changes_nothing(
    client: Client, tenancy: Tenancy, world: dict[str, str], method: str, path: str
) -> None:
    """An ``agent`` key is for /mcp only: the JSON API refuses it on reads and writes alike."""
    raw = make_api_key(tenancy.project, "agent", scope=ApiKeyScope.AGENT)[1]
    before = _snapshot()
    response = client.generic(
        method,
        _url(path, world),
        data=b'{"name": "x"}',
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    body = assert_error_body(response, 403, "forbidden")
    assert "/mcp" in body["message"]
    assert raw not in response.content.decode()
    assert _snapshot() == before
