"""The "Connectors and versions" endpoints, exactly as docs/api.md has them."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from connectors.models import ConnectorVersion
from profiles.services import connector_version_push
from projects.models import AuditEntry, Project
from projects.services import Actor
from tests.conftest import Tenancy
from tests.factories import connector_yaml, make_api_key

pytestmark = pytest.mark.django_db
PUSH = "/api/v1/connectors/push"


class Api:
    def __init__(self, project: Project) -> None:
        self.key = make_api_key(project)[1]
        self.client = Client(headers={"Authorization": f"Bearer {self.key}"})

    def push(self, content: bytes, query: str = "") -> Any:
        return self.client.post(PUSH + query, content, content_type="application/yaml")

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(path, params)


@pytest.fixture
def api(tenancy: Tenancy) -> Api:
    return Api(tenancy.project)


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    if code:
        assert body["code"] == code
    return body


def test_push_yaml_body_publishes_a_custom_version(api: Api, tenancy: Tenancy) -> None:
    response = api.push(connector_yaml())
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "key",
        "version",
        "owner",
        "builtin",
        "draft",
        "published_at",
        "change_level",
        "messages",
    }
    assert body["key"] == "acme_crm" and body["version"] == "1.0.0"
    assert body["owner"] == tenancy.project.slug and body["builtin"] is False
    assert body["draft"] is False and body["published_at"] and body["change_level"] == "initial"
    assert all(set(m) >= {"text", "severity"} for m in body["messages"])
    entry = AuditEntry.objects.get(action="connector_version.published")
    assert entry.actor_label.startswith("API key chk_") and entry.project == tenancy.project


def test_push_multipart_with_partials(api: Api) -> None:
    main = (
        b"info: {title: Acme, key: acme_crm, version: 1.0.0}\n"
        b"baseUrl: https://api.example.com\n"
        b"authentication: {type: basic}\n"
        b"actions:\n  - $ref: acme_crm.deals\n"
    )
    partial = (
        b"- actionId: list_deals\n  categories: [crm]\n  actionType: list\n"
        b"  label: List deals\n  description: All deals.\n"
    )
    response = api.client.post(
        PUSH,
        {
            "files": [
                SimpleUploadedFile("connector.yaml", main),
                SimpleUploadedFile("deals.yaml", partial),
            ]
        },
    )
    assert response.status_code == 201, response.content
    version = ConnectorVersion.objects.get()
    assert [a["actionId"] for a in version.definition["actions"]] == ["list_deals"]
    assert [name for name, _text in version.source_files] == ["connector.yaml", "deals.yaml"]


def test_push_flags_draft_force_and_overwrite(api: Api, tenancy: Tenancy) -> None:
    assert api.push(connector_yaml(), "?draft=true").json()["draft"] is True
    assert api.push(connector_yaml()).status_code == 201  # the draft, now published
    assert_error(api.push(connector_yaml(description="v2")), 409, "conflict")
    assert_error(api.push(connector_yaml(description="v2"), "?force=true"), 409)
    Project.objects.filter(pk=tenancy.project.pk).update(immutable_versioning=False)
    body = assert_error(api.push(connector_yaml(description="v2")), 409)
    assert "force" in body["message"]
    overwritten = api.push(connector_yaml(description="v2"), "?force=true")
    assert overwritten.status_code == 200 and overwritten.json()["draft"] is False


def test_push_invalid_definition_is_400_with_fields(api: Api) -> None:
    bad = b"info: {title: Acme, key: Acme-CRM, version: '1.0'}\nbaseUrl: https://x.example\n"
    body = assert_error(api.push(bad), 400)
    places = {f["field"] for f in body["fields"]}
    assert {"info.key", "info.version"} <= places
    assert not ConnectorVersion.objects.exists()


def test_push_too_large_is_413(api: Api) -> None:
    body = assert_error(api.push(b"#" * (3 * 1024 * 1024)), 413, "too_large")
    assert "limit" in body["message"]


def test_push_unacknowledged_breaking_change_is_422(api: Api) -> None:
    api.push(connector_yaml(actions=("a", "b")))
    assert_error(api.push(connector_yaml(version="1.1.0", actions=("a",))), 422)
    assert (
        api.push(
            connector_yaml(version="1.1.0", actions=("a",)), "?acknowledge_breaking=true"
        ).status_code
        == 201
    )


def test_connector_list(api: Api, tenancy: Tenancy) -> None:
    connector_version_push(
        actor=Actor.system(), project=None, files=[("c", connector_yaml(version="1.2.0"))]
    )
    api.push(connector_yaml(version="1.3.0", actions=("list_contacts", "x")))
    connector_version_push(
        actor=Actor.system(),
        project=tenancy.other_project,
        files=[("c", connector_yaml(key="secret_one"))],
    )
    body = api.get("/api/v1/connectors").json()
    assert body == [
        {
            "key": "acme_crm",
            "title": "Acme CRM",
            "description": "Contacts and deals.",
            "icon": None,
            "latest_builtin": "1.2.0",
            "latest_custom": "1.3.0",
        }
    ]


def test_versions_cursor_paging(api: Api, tenancy: Tenancy) -> None:
    for minor in range(7):
        api.push(
            connector_yaml(version=f"1.{minor}.0", actions=tuple(f"a{i}" for i in range(minor + 1)))
        )
    connector_version_push(
        actor=Actor.system(),
        project=tenancy.other_project,
        files=[("c", connector_yaml(version="9.0.0"))],
    )
    first = api.get("/api/v1/connectors/acme_crm/versions", first=3).json()
    assert set(first) == {"items", "totalCount", "next", "prev"}
    assert first["totalCount"] == 7 and first["prev"] is None and first["next"]
    assert [i["name"] for i in first["items"]] == ["1.6.0", "1.5.0", "1.4.0"]
    item = first["items"][0]
    assert set(item) == {
        "id",
        "name",
        "description",
        "builtin",
        "owner",
        "isLatest",
        "isDefault",
        "createdAt",
        "updatedAt",
        "publishedAt",
        "messages",
    }
    assert item["isLatest"] and item["isDefault"] and item["owner"] == tenancy.project.slug
    second = api.get("/api/v1/connectors/acme_crm/versions", first=3, after=first["next"]).json()
    assert [i["name"] for i in second["items"]] == ["1.3.0", "1.2.0", "1.1.0"]
    last = api.get("/api/v1/connectors/acme_crm/versions", first=3, after=second["next"]).json()
    assert [i["name"] for i in last["items"]] == ["1.0.0"] and last["next"] is None
    back = api.get("/api/v1/connectors/acme_crm/versions", first=3, before=second["prev"]).json()
    assert [i["name"] for i in back["items"]] == ["1.6.0", "1.5.0", "1.4.0"]
    garbage = assert_error(api.get("/api/v1/connectors/acme_crm/versions", after="garbage!"), 400)
    assert [f["field"] for f in garbage["fields"]] == ["after"]
    zero = assert_error(api.get("/api/v1/connectors/acme_crm/versions", first=0), 400)
    assert [f["field"] for f in zero["fields"]] == ["first"]


def test_drafts_are_listed_with_null_published_at(api: Api) -> None:
    api.push(connector_yaml(), "?draft=true")
    item = api.get("/api/v1/connectors/acme_crm/versions").json()["items"][0]
    assert item["publishedAt"] is None and not item["isLatest"]


def test_version_detail_and_aliases(api: Api) -> None:
    connector_version_push(
        actor=Actor.system(),
        project=None,
        files=[("c", connector_yaml(version="2.0.0", required_fields=("api_key", "r")))],
    )
    api.push(connector_yaml(version="1.0.0"))
    one = api.get("/api/v1/connectors/acme_crm/versions/1.0.0").json()
    assert one["name"] == "1.0.0" and one["definition"]["info"]["key"] == "acme_crm"
    latest = api.get("/api/v1/connectors/acme_crm/versions/latest").json()
    assert latest["name"] == "1.0.0" and latest["builtin"] is False  # custom precedence
    # default: what the project's default profile uses (the default resolution without one)
    assert api.get("/api/v1/connectors/acme_crm/versions/default").json()["name"] == "1.0.0"
    api.client.post(
        "/api/v1/connector_profiles",
        {"name": "prod", "connector_key": "acme_crm", "pinned_version": "latest_builtin"},
        content_type="application/json",
    )
    default = api.get("/api/v1/connectors/acme_crm/versions/default").json()
    assert default["name"] == "2.0.0" and default["builtin"] is True and default["isDefault"]
    assert_error(api.get("/api/v1/connectors/acme_crm/versions/3.0.0"), 404, "not_found")
    # A project's draft never hides the published built-in version of the same number.
    api.push(connector_yaml(version="2.0.0", required_fields=("api_key", "r")), "?draft=true")
    same = api.get("/api/v1/connectors/acme_crm/versions/2.0.0").json()
    assert same["builtin"] is True and same["publishedAt"] is not None


def test_publish_a_draft_and_delete(api: Api, tenancy: Tenancy) -> None:
    api.push(connector_yaml(), "?draft=true")
    published = api.client.post("/api/v1/connectors/acme_crm/versions/1.0.0/publish")
    assert published.status_code == 200 and published.json()["draft"] is False
    assert_error(api.client.post("/api/v1/connectors/acme_crm/versions/1.0.0/publish"), 409)
    assert_error(api.client.delete("/api/v1/connectors/acme_crm/versions/1.0.0"), 409)
    Project.objects.filter(pk=tenancy.project.pk).update(immutable_versioning=False)
    assert api.client.delete("/api/v1/connectors/acme_crm/versions/1.0.0").status_code == 204
    assert not ConnectorVersion.objects.exists()


def test_another_projects_versions_are_404(api: Api, tenancy: Tenancy) -> None:
    connector_version_push(
        actor=Actor.system(),
        project=tenancy.other_project,
        files=[("c", connector_yaml(key="secret_one"))],
    )
    for response in [
        api.get("/api/v1/connectors/secret_one/versions"),
        api.get("/api/v1/connectors/secret_one/versions/1.0.0"),
        api.client.post("/api/v1/connectors/secret_one/versions/1.0.0/publish"),
        api.client.delete("/api/v1/connectors/secret_one/versions/1.0.0"),
    ]:
        assert_error(response, 404, "not_found")
    assert ConnectorVersion.objects.count() == 1


def test_builtin_versions_cannot_be_published_or_deleted_through_a_project(api: Api) -> None:
    connector_version_push(actor=Actor.system(), project=None, files=[("c", connector_yaml())])
    assert_error(api.client.delete("/api/v1/connectors/acme_crm/versions/1.0.0"), 409)
    assert ConnectorVersion.objects.count() == 1


def test_unauthenticated_is_401(client: Client) -> None:
    assert_error(client.post(PUSH, connector_yaml(), content_type="application/yaml"), 401)
    assert_error(client.get("/api/v1/connectors"), 401)


HOSTILE = {
    "python-tag": b"info: !!python/object/apply:os.system ['touch /tmp/connector-hub-pwned']\n",
    "alias-bomb": (
        b"a: &a ['x','x','x','x','x','x','x','x','x']\n"
        + b"".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n".encode()
            for i in range(8)
        )
    ),
    "deep-nesting": b"info: " + b"[" * 20000 + b"]" * 20000 + b"\n",
    "invalid-utf8": b"info: {title: \xff\xfe, key: acme_crm, version: 1.0.0}\n",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_yaml_is_a_clear_400_and_stores_nothing(api: Api, name: str) -> None:
    body = assert_error(api.push(HOSTILE[name]), 400)
    assert body["message"] and "Traceback" not in body["message"]
    assert not ConnectorVersion.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="connector_version").exists()


def test_ten_megabytes_is_413_and_stores_nothing(api: Api) -> None:
    assert_error(api.push(b"a: " + b"x" * (10 * 1024 * 1024)), 413, "too_large")
    big = SimpleUploadedFile("connector.yaml", b"#" * (1024 * 1024 + 1))
    assert_error(api.client.post(PUSH, {"files": [big]}), 413, "too_large")
    assert not ConnectorVersion.objects.exists()


def test_self_referencing_partial_is_400(api: Api) -> None:
    main = (
        b"info: {title: Acme, key: acme_crm, version: 1.0.0}\nbaseUrl: https://api.example.com\n"
        b"authentication: {type: basic}\nactions:\n  - $ref: acme_crm.loop\n"
    )
    loop = b"- $ref: acme_crm.loop\n"
    response = api.client.post(
        PUSH,
        {
            "files": [
                SimpleUploadedFile("connector.yaml", main),
                SimpleUploadedFile("loop.yaml", loop),
            ]
        },
    )
    body = assert_error(response, 400)
    assert (
        any("loop" in f["field"] or "loop" in f["message"] for f in body["fields"])
        or "loop" in body["message"]
    )
    assert not ConnectorVersion.objects.exists()
