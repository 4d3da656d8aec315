"""The "Connector profiles" endpoints, exactly as docs/api.md has them."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from profiles.models import ConnectorProfile
from profiles.services import connector_version_push
from projects.models import AuditEntry, Project
from projects.services import Actor
from tests.conftest import Tenancy
from tests.factories import connector_yaml, make_api_key

pytestmark = pytest.mark.django_db
BASE = "/api/v1/connector_profiles"


def publish(project: Project | None, version: str) -> None:
    connector_version_push(
        actor=Actor.system(),
        project=project,
        files=[("c.yaml", connector_yaml(version=version))],
        acknowledge_breaking=True,
    )


@pytest.fixture
def api(tenancy: Tenancy) -> Client:
    for v in ["1.0.0", "1.2.0", "2.0.0"]:
        publish(None, v)
    publish(tenancy.project, "1.3.0")
    return Client(headers={"Authorization": f"Bearer {make_api_key(tenancy.project)[1]}"})


def create(api: Client, **body: Any) -> Any:
    payload = {"name": "production", "connector_key": "acme_crm", **body}
    return api.post(BASE, payload, content_type="application/json")


def test_create_and_read(api: Client, tenancy: Tenancy) -> None:
    response = create(api, pinned_version="1.x.x")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "id",
        "name",
        "connector_key",
        "pinned_version",
        "is_default",
        "resolved_version",
        "connection_count",
        "rollout",
    }
    assert body["rollout"] is None
    assert body["pinned_version"] == "1.x.x"
    assert body["resolved_version"] == {
        "version": "1.3.0",
        "builtin": False,
        "owner": tenancy.project.slug,
    }
    assert body["is_default"] is True  # the first profile of a connector
    assert api.get(f"{BASE}/{body['id']}").json() == body
    assert [p["id"] for p in api.get(BASE).json()] == [body["id"]]
    assert AuditEntry.objects.filter(action="profile.created").count() == 1


def test_pin_put_and_delete(api: Client) -> None:
    profile_id = create(api, pinned_version="1.2.0").json()["id"]
    url = f"{BASE}/{profile_id}/pinned_version"
    put = api.put(url, {"pinned_version": "latest_builtin"}, content_type="application/json")
    assert put.status_code == 200
    assert put.json()["pinned_version"] == "latest_builtin"
    assert put.json()["resolved_version"]["version"] == "2.0.0"
    deleted = api.delete(url)
    assert deleted.status_code == 200
    assert deleted.json()["pinned_version"] is None
    assert deleted.json()["resolved_version"]["version"] == "1.3.0"  # default: custom first


@pytest.mark.parametrize(
    ("pin", "fragment"),
    [
        ("^1.2.0", "npm-style"),
        ("~1.2", "npm-style"),
        ("1.2", "Accepted pins"),
        ("v1.2.0", "Accepted pins"),
        ("", "empty"),
        ("7.x.x", "matches no published version"),
        ("1.3.0-rc.1", "matches no published version"),
    ],
)
def test_invalid_or_unmatched_pin_is_400(api: Client, pin: str, fragment: str) -> None:
    profile_id = create(api, pinned_version="1.x.x").json()["id"]
    response = api.put(
        f"{BASE}/{profile_id}/pinned_version",
        {"pinned_version": pin},
        content_type="application/json",
    )
    assert response.status_code == 400
    body = response.json()
    assert fragment in body["message"]
    assert body["fields"][0]["field"] == "pinned_version"
    assert ConnectorProfile.objects.get(public_id=profile_id).pin == "1.x.x"
    assert create(api, name="other", pinned_version=pin).status_code == 400


def test_versions_mark_exactly_the_resolution(api: Client, tenancy: Tenancy) -> None:
    profile_id = create(api, pinned_version="1.2.x").json()["id"]
    versions = api.get(f"{BASE}/{profile_id}/versions").json()
    assert [v["version"] for v in versions] == ["2.0.0", "1.3.0", "1.2.0", "1.0.0"]
    assert [v for v in versions if v["pinned"]] == [
        {"version": "1.2.0", "pinned": True, "builtin": True, "owner": "platform"}
    ]
    assert {v["owner"] for v in versions if not v["builtin"]} == {tenancy.project.slug}


def test_another_projects_profile_is_404(api: Client, tenancy: Tenancy) -> None:
    publish(tenancy.other_project, "5.0.0")
    from profiles.services import profile_create

    foreign = profile_create(
        actor=Actor.system(), project=tenancy.other_project, connector_key="acme_crm", name="theirs"
    )
    for response in [
        api.get(f"{BASE}/{foreign.public_id}"),
        api.get(f"{BASE}/{foreign.public_id}/versions"),
        api.put(
            f"{BASE}/{foreign.public_id}/pinned_version",
            {"pinned_version": "1.x.x"},
            content_type="application/json",
        ),
        api.delete(f"{BASE}/{foreign.public_id}/pinned_version"),
    ]:
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert ConnectorProfile.objects.get(pk=foreign.pk).pin is None
    assert api.get(BASE).json() == []


def test_bad_bodies(api: Client) -> None:
    assert api.post(BASE, {"name": "x"}, content_type="application/json").status_code == 400
    unknown = create(api, connector_key="nope")
    assert unknown.status_code == 400 and "nope" in unknown.json()["message"]
    create(api)
    duplicate = create(api)
    assert duplicate.status_code == 409
    assert api.get(f"{BASE}/999999").status_code == 404
    assert Client().get(BASE).status_code == 401
