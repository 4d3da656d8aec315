"""POST /connections and PUT /connections/{id} (importing credentials) and GET
/connections/available: strict config checks, optional verification through the health check
against a real provider on loopback, and nothing stored on any refusal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from connections.models import Connection
from projects.crypto import decrypt_json
from projects.models import AuditEntry
from tests.factories import make_api_key, make_connection, make_profile, make_project
from tests.provider import Answer, Provider, provider_server

pytestmark = pytest.mark.django_db
SECRET = "sk_live_imported_secret_7788"


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        yield server


def setup(provider: Provider) -> tuple[Any, Client]:
    project = make_project()
    profile = make_profile(
        project,
        base_url=provider.url,
        health_path="/me",
        header_name="X-Key",
        optional_fields=("region",),
    )
    client = Client(headers={"Authorization": f"Bearer {make_api_key(project)[1]}"})
    return profile, client


def body(**extra: Any) -> dict[str, Any]:
    return {
        "connector_key": "acme_crm",
        "origin_owner_id": "user-1",
        "config": {"api_key": SECRET},
        **extra,
    }


def test_post_creates_a_connection_with_the_secret_encrypted_and_masked(provider: Provider) -> None:
    provider.routes["/me"] = Answer(200)
    profile, client = setup(provider)
    answer = client.post(
        "/api/v1/connections", body(verify=True, name="Imported"), content_type="application/json"
    )
    assert answer.status_code == 201, answer.content
    data = answer.json()
    assert data["name"] == "Imported"
    assert data["profile_id"] == str(profile.public_id)
    assert data["config"]["api_key"] == "••••7788"
    assert SECRET.encode() not in answer.content
    assert provider.calls("/me")[0].headers["X-Key"] == SECRET
    row = Connection.objects.get(public_id=data["id"])
    assert SECRET not in row.config_secrets
    assert decrypt_json(row.config_secrets) == {"api_key": SECRET}


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        (body(config={}), 400, "config.api_key"),
        (body(config={"api_key": SECRET, "nope": "x"}), 400, "config.nope"),
        (body(config={"api_key": 12}), 400, "config.api_key"),
        (body(config={"api_key": "bad\x00"}), 400, "config.api_key"),
        (body(origin_owner_id=""), 400, "origin_owner_id"),
        (body(connector_key="unknown_connector"), 404, None),
        ({**body(), "connector_key": None}, 400, "connector_profile_id"),
        (body(verify=True), 422, None),
    ],
    ids=[
        "missing required",
        "unknown",
        "mistyped",
        "control char",
        "no owner",
        "no profile",
        "no profile named",
        "verification refused",
    ],
)
def test_post_refusals_store_nothing(
    provider: Provider, payload: dict[str, Any], status: int, field: str | None
) -> None:
    provider.routes["/me"] = Answer(401)
    _, client = setup(provider)
    audits = AuditEntry.objects.count()
    answer = client.post("/api/v1/connections", payload, content_type="application/json")
    assert answer.status_code == status, answer.content
    if field:
        assert field in [f["field"] for f in answer.json()["fields"]], answer.json()
    if status == 422:
        assert answer.json()["code"] == "credentials_rejected"
    assert Connection.objects.count() == 0
    assert AuditEntry.objects.count() == audits
    assert SECRET.encode() not in answer.content


def test_put_replaces_config_and_refusals_change_nothing(provider: Provider) -> None:
    provider.routes["/me"] = Answer(200)
    profile, client = setup(provider)
    connection = make_connection(profile, config={"api_key": "sk_old_key_0001"})
    url = f"/api/v1/connections/{connection.public_id}"
    before = Connection.objects.get(pk=connection.pk)
    refused = client.put(
        url, {"config": {"api_key": SECRET, "zzz": 1}}, content_type="application/json"
    )
    assert refused.status_code == 400
    provider.routes["/me"] = Answer(403)
    rejected = client.put(
        url, {"config": {"api_key": SECRET}, "verify": True}, content_type="application/json"
    )
    assert rejected.status_code == 422
    same = Connection.objects.get(pk=connection.pk)
    assert (same.config_secrets, same.updated_at) == (before.config_secrets, before.updated_at)
    provider.routes["/me"] = Answer(200)
    done = client.put(
        url,
        {"config": {"api_key": SECRET}, "name": "Renamed", "verify": True},
        content_type="application/json",
    )
    assert done.status_code == 200, done.content
    assert done.json()["name"] == "Renamed"
    assert decrypt_json(Connection.objects.get(pk=connection.pk).config_secrets) == {
        "api_key": SECRET
    }
    stranger = Client(headers={"Authorization": f"Bearer {make_api_key(make_project())[1]}"})
    assert stranger.put(url, {"name": "x"}, content_type="application/json").status_code == 404
    reader = Client(
        headers={"Authorization": f"Bearer {make_api_key(profile.project, scope='read')[1]}"}
    )
    assert reader.put(url, {"name": "x"}, content_type="application/json").status_code == 403


def test_put_imports_oauth_tokens() -> None:
    project = make_project()
    profile = make_profile(project, auth_type="oauth2", required_fields=())
    client = Client(headers={"Authorization": f"Bearer {make_api_key(project)[1]}"})
    connection = make_connection(profile, config={})
    answer = client.put(
        f"/api/v1/connections/{connection.public_id}",
        {
            "oauth_tokens": {
                "access_token": "at-secret-1",
                "refresh_token": "rt-secret-2",
                "expires_at": "2030-01-01T00:00:00Z",
                "scopes": ["contacts.read"],
            }
        },
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["oauth"]["connected"] is True
    assert b"at-secret-1" not in answer.content and b"rt-secret-2" not in answer.content
    tokens = decrypt_json(Connection.objects.get(pk=connection.pk).oauth_tokens)
    assert tokens["access_token"] == "at-secret-1"


def test_available_lists_connectors_profiles_and_config_fields(provider: Provider) -> None:
    profile, client = setup(provider)
    answer = client.get("/api/v1/connections/available")
    assert answer.status_code == 200, answer.content
    (item,) = answer.json()
    assert item["connector_key"] == "acme_crm"
    assert item["auth_type"] == "api_key"
    assert item["profiles"] == [
        {
            "id": str(profile.public_id),
            "name": profile.name,
            "is_default": profile.is_default,
            "resolved_version": "1.0.0",
        }
    ]
    assert [f["key"] for f in item["config_fields"]] == ["api_key", "region"]
    assert item["config_fields"][0]["secret"] is True
    other = Client(headers={"Authorization": f"Bearer {make_api_key(make_project())[1]}"})
    assert other.get("/api/v1/connections/available").json() == []
