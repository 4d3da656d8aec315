"""The "Connections" endpoints, exactly as docs/api.md has them."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection as db
from django.test import Client
from django.test.utils import CaptureQueriesContext

from connections.models import Connection, ConnectionGrant, Health, Status
from connections.services.connections import connection_set_status
from profiles.models import ConnectorProfile
from projects.crypto import decrypt_json, mask
from projects.models import AuditEntry, Project
from projects.services import Actor
from tests.conftest import Tenancy
from tests.factories import (
    make_api_key,
    make_connection,
    make_profile,
    make_team,
    member_id,
    update_connections,
)
from tests.provider import Answer, Provider, provider_server

pytestmark = pytest.mark.django_db
BASE = "/api/v1/connections"
SECRET = "sk_live_known_plaintext_4242"
MASK = mask(SECRET)  # ••••4242
ITEM_KEYS = {
    "id",
    "name",
    "connector_key",
    "profile_id",
    "profile_name",
    "origin_owner_id",
    "origin_owner_name",
    "origin_username",
    "email",
    "status",
    "health",
    "resolved_version",
    "serving_version",
    "last_used_at",
    "created_at",
    "updated_at",
    "organization_role",
    "moved_from_profile_id",
    "moved_at",
    "config",
    "oauth",
}


def client_for(project: Project) -> Client:
    return Client(headers={"Authorization": f"Bearer {make_api_key(project)[1]}"})


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert isinstance(body["message"], str) and body["message"]
    if code:
        assert body["code"] == code
    return body


def field_names(body: dict[str, Any]) -> set[str]:
    return {f["field"] for f in body["fields"]}


@dataclass
class World:
    tenancy: Tenancy
    api: Client
    profile: ConnectorProfile
    known: Connection  # holds SECRET
    other: Connection  # another project's connection
    other_api: Client

    @property
    def project(self) -> Project:
        return self.tenancy.project


@pytest.fixture
def world(tenancy: Tenancy) -> World:
    profile = make_profile(tenancy.project)
    known = make_connection(profile, "cust-known", config={"api_key": SECRET}, name="Known account")
    other_profile = make_profile(tenancy.other_project)
    other = make_connection(other_profile, "globex-user", name="Globex secret account")
    return World(
        tenancy=tenancy,
        api=client_for(tenancy.project),
        profile=profile,
        known=known,
        other=other,
        other_api=client_for(tenancy.other_project),
    )


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content[:500]
    return [item["id"] for item in response.json()["items"]]


# --- List --------------------------------------------------------------------------------------


def test_list_shape_defaults_and_masking(world: World) -> None:
    response = world.api.get(BASE)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"items", "total", "total_exact", "limit", "offset"}
    assert body["total_exact"] is True
    assert (body["total"], body["limit"], body["offset"]) == (1, 50, 0)
    (item,) = body["items"]
    assert set(item) == ITEM_KEYS
    assert item["id"] == str(world.known.public_id)
    assert item["name"] == "Known account"
    assert item["connector_key"] == "acme_crm"
    assert item["profile_id"] == str(world.profile.public_id)
    assert item["profile_name"] == "production"
    assert item["origin_owner_id"] == "cust-known"
    assert item["email"] == "cust-known@customer.example"
    assert item["status"] == "active"
    assert item["health"] == {
        "status": "unknown",
        "checked_at": None,
        "last_healthy_at": None,
        "detail": "",
    }
    assert item["resolved_version"] == "1.0.0"
    assert item["organization_role"] is None
    assert item["moved_from_profile_id"] is None and item["moved_at"] is None
    assert item["config"] == {"api_key": MASK}
    assert item["oauth"] == {"connected": False, "expires_at": None, "scopes": []}
    assert SECRET not in response.content.decode()
    # The list item and the detail are the same shape and the same values.
    assert world.api.get(f"{BASE}/{world.known.public_id}").json() == item


def test_list_items_are_byte_for_byte_the_schemas_rendering(world: World) -> None:
    """The list renders its rows itself (no response-schema validation of each row): each item
    is exactly what the detail renders through ConnectionOut, in the same field order, for
    every kind of value (OAuth scopes as a string and a list, secrets, a move, an org role,
    no resolved version, date-times with and without microseconds, non-ASCII text)."""
    oauth_profile = make_profile(
        world.project, key="oauthy", name="oauth", auth_type="oauth2", required_fields=()
    )
    spaced = make_connection(
        oauth_profile,
        config={},
        tokens={"access_token": "at-0123456789abc", "scope": "read write", "expires_at": 4e9},
    )
    listed = make_connection(
        oauth_profile, config={}, tokens={"access_token": "at-0123456789abd", "scopes": ["a"]}
    )
    plain = make_connection(world.profile, name="Ünïcode · “name”", config={"api_key": "short"})
    now = datetime.now(UTC)
    whole = now.replace(microsecond=0)
    update_connections(
        Connection.objects.filter(pk=listed.pk),
        moved_from_profile=world.profile,
        moved_at=whole,
        org_role="viewer",
        last_used_at=now,
    )
    update_connections(
        Connection.objects.filter(pk=plain.pk),
        resolved_version=None,
        health=Health.UNHEALTHY,
        health_checked_at=now,
        last_healthy_at=whole,
        health_error="HTTP 500 — “down”",
    )
    response = world.api.get(BASE, {"limit": "10", "sort_by": "name", "sort_dir": "asc"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert list(body) == ["items", "total", "total_exact", "limit", "offset"]
    assert body["total"] == 4 and body["total_exact"] is True
    assert len(body["items"]) == 4
    for item in body["items"]:
        detail = world.api.get(f"{BASE}/{item['id']}")
        # The encoder is the renderer's: re-encoding the parsed item (order kept) gives the
        # list's own bytes for it.
        assert json.dumps(item).encode() == detail.content, item["name"]
        assert json.dumps(item).encode() in response.content
    by_id = {item["id"]: item for item in body["items"]}
    assert by_id[str(spaced.public_id)]["oauth"]["scopes"] == ["read", "write"]
    assert by_id[str(listed.public_id)]["moved_from_profile_id"] == str(world.profile.public_id)
    assert by_id[str(plain.public_id)]["resolved_version"] is None


def test_list_never_shows_another_projects_connections(world: World) -> None:
    assert ids(world.api.get(BASE)) == [str(world.known.public_id)]
    assert ids(world.other_api.get(BASE)) == [str(world.other.public_id)]
    assert "Globex" not in world.api.get(BASE).content.decode()


@pytest.fixture
def many(world: World) -> dict[str, Connection]:
    """Five more connections across two connectors, two profiles and statuses."""
    staging = make_profile(world.project, name="staging", version="1.1.0")
    mail = make_profile(world.project, key="beta_mail", name="mail", title="Beta Mail")
    rows = {
        "alpha": make_connection(world.profile, "u-alpha", name="Alpha Corp"),
        "bravo": make_connection(staging, "u-bravo", name="Bravo Ltd", email="ops@bravo.example"),
        "charlie": make_connection(mail, "u-charlie", name="Charlie Inc"),
        "delta": make_connection(mail, "u-delta", name="Delta Shop"),
        "echo": make_connection(staging, "u-echo", name="Echo GmbH"),
    }
    connection_set_status(actor=Actor.system(), connection=rows["delta"], status=Status.DISABLED)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    ordered = [world.known, *rows.values()]
    for n, row in enumerate(ordered):
        Connection.objects.filter(pk=row.pk).update(
            created_at=start + timedelta(days=n), updated_at=start + timedelta(days=10 - n)
        )
    rows["known"] = world.known
    return rows


def test_filters(world: World, many: dict[str, Connection]) -> None:
    pk = {name: str(row.public_id) for name, row in many.items()}
    get = world.api.get
    assert set(ids(get(BASE, {"connector_key": "beta_mail"}))) == {pk["charlie"], pk["delta"]}
    staging_id = str(many["bravo"].profile.public_id)
    assert set(ids(get(BASE, {"profile_id": staging_id}))) == {pk["bravo"], pk["echo"]}
    assert ids(get(BASE, {"status": "disabled"})) == [pk["delta"]]
    assert set(ids(get(BASE, {"status": "active", "connector_key": "beta_mail"}))) == {
        pk["charlie"]
    }
    # search: owner id, name, email
    assert ids(get(BASE, {"search": "bravo.example"})) == [pk["bravo"]]
    assert ids(get(BASE, {"search": "charlie"})) == [pk["charlie"]]
    assert ids(get(BASE, {"search": "u-echo"})) == [pk["echo"]]
    # field__operator
    after = get(BASE, {"created_at__gte": "2024-01-04T00:00:00Z"})
    assert set(ids(after)) == {pk["charlie"], pk["delta"], pk["echo"]}
    assert after.json()["total"] == 3
    assert set(ids(get(BASE, {"name__icontains": "CORP"}))) == {pk["alpha"]}
    assert set(ids(get(BASE, {"status__in": "disabled,error"}))) == {pk["delta"]}
    assert set(ids(get(BASE, {"status__ne": "active"}))) == {pk["delta"]}
    both = get(BASE, {"created_at__gte": "2024-01-03T00:00:00Z", "name__icontains": "o"})
    assert set(ids(both)) == {pk["bravo"], pk["echo"], pk["delta"]}
    # resolved_version and health
    # "production" (unpinned) moved to 1.1.0 when it was published: alpha came after.
    assert set(ids(get(BASE, {"resolved_version": "1.1.0"}))) == {
        pk["alpha"],
        pk["bravo"],
        pk["echo"],
    }
    on_first = {"resolved_version": "1.0.0", "connector_key": "acme_crm"}
    assert ids(get(BASE, on_first)) == [pk["known"]]
    update_connections(Connection.objects.filter(public_id=pk["alpha"]), health=Health.HEALTHY)
    assert ids(get(BASE, {"health": "healthy"})) == [pk["alpha"]]
    # blank parameters mean "no filter"
    blank = get(BASE, {"status": "", "profile_id": "", "connector_key": "", "search": ""})
    assert blank.json()["total"] == 6


def test_sort_limit_offset_total(world: World, many: dict[str, Connection]) -> None:
    pk = {name: str(row.public_id) for name, row in many.items()}
    by_creation = [pk[n] for n in ["known", "alpha", "bravo", "charlie", "delta", "echo"]]
    get = world.api.get
    assert ids(get(BASE)) == by_creation[::-1]  # created_at desc by default
    assert ids(get(BASE, {"sort_by": "created_at", "sort_dir": "asc"})) == by_creation
    assert ids(get(BASE, {"sort_by": "updated_at", "sort_dir": "asc"})) == by_creation[::-1]
    names = ids(get(BASE, {"sort_by": "name", "sort_dir": "asc"}))
    assert names == [pk[n] for n in ["alpha", "bravo", "charlie", "delta", "echo", "known"]]
    assert ids(get(BASE, {"sort_by": "name", "sort_dir": "desc"})) == names[::-1]
    page = get(BASE, {"sort_dir": "asc", "limit": "2", "offset": "2"})
    assert page.json()["total"] == 6
    assert (page.json()["limit"], page.json()["offset"]) == (2, 2)
    assert ids(page) == by_creation[2:4]
    last = get(BASE, {"sort_dir": "asc", "limit": "200", "offset": "5"})
    assert ids(last) == by_creation[5:] and last.json()["total"] == 6
    beyond = get(BASE, {"offset": 50})
    assert ids(beyond) == [] and beyond.json()["total"] == 6
    filtered = get(BASE, {"connector_key": "acme_crm", "limit": "1"})
    assert filtered.json()["total"] == 4 and len(filtered.json()["items"]) == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort_by": "email"}, "sort_by"),
        ({"sort_dir": "sideways"}, "sort_dir"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"status": "sleeping"}, "status"),
        ({"health": "fine"}, "health"),
        ({"profile_id": "abc"}, "profile_id"),
        ({"password__eq": "x"}, "password__eq"),
        ({"search_text__contains": "x"}, "search_text__contains"),
        ({"name__gte": "a"}, "name__gte"),
        ({"created_at__icontains": "2024"}, "created_at__icontains"),
        ({"created_at__gte": "yesterday"}, "created_at__gte"),
        ({"id__eq": "one"}, "id__eq"),
        ({"status__in": "active,sleeping"}, "status__in"),
        ({"moved_at__isnull": "maybe"}, "moved_at__isnull"),
        ({"resolved_version": ["1.0.0", "2.0.0"]}, "resolved_version"),
        ({"resolved_version": "{'a': 1}"}, "resolved_version"),
        ({"limit": ["10", "20"]}, "limit"),
    ],
)
def test_invalid_list_parameters_are_400_naming_the_field(
    world: World, params: dict[str, Any], field: str
) -> None:
    body = assert_error(world.api.get(BASE, params), 400, "invalid")
    assert field in field_names(body), body


def test_list_query_count_does_not_grow_with_the_page(world: World) -> None:
    def count_queries() -> int:
        world.api.get(BASE)  # the key's last-used stamp is written on first use only
        with CaptureQueriesContext(db) as ctx:
            response = world.api.get(BASE, {"limit": 200})
        assert response.status_code == 200
        return len(ctx.captured_queries)

    oauth_profile = make_profile(
        world.project, key="oauthy", name="oauth", auth_type="oauth2", required_fields=()
    )
    tokens: dict[str, object] = {
        "access_token": "at-0123456789abc",
        "refresh_token": "rt-0123456789abc",
    }
    for n in range(4):
        make_connection(oauth_profile if n % 2 else world.profile, config={} if n % 2 else None)
    assert Connection.objects.filter(project=world.project).count() == 5
    # The key (with its project), the total (from the counters) and the page (its profiles,
    # connectors and versions joined): nothing per row.
    assert count_queries() == 3
    Connection.objects.filter(profile=oauth_profile).update(moved_from_profile=world.profile)
    small = count_queries()
    assert small == 4  # and the profiles rows on the page moved from, when there are some
    for n in range(40):
        if n % 2:
            make_connection(oauth_profile, config={}, tokens=tokens)
        else:
            make_connection(world.profile)
    assert world.api.get(BASE, {"limit": 200}).json()["total"] == 45
    assert count_queries() == small


# --- Detail, rename, delete --------------------------------------------------------------------


def test_detail_rename_delete(world: World) -> None:
    url = f"{BASE}/{world.known.public_id}"
    detail = world.api.get(url)
    assert detail.status_code == 200 and set(detail.json()) == ITEM_KEYS
    renamed = world.api.patch(url, {"name": "  Renamed  "}, content_type="application/json")
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Renamed"
    assert renamed.json()["config"] == {"api_key": MASK}
    assert SECRET not in renamed.content.decode()
    entry = AuditEntry.objects.get(action="connection.renamed")
    assert entry.before == {"name": "Known account"} and entry.after == {"name": "Renamed"}
    assert entry.actor_label.startswith("API key ")
    assert world.api.get(url).json()["name"] == "Renamed"

    deleted = world.api.delete(url)
    assert deleted.status_code == 204 and deleted.content == b""
    assert not Connection.objects.filter(pk=world.known.pk).exists()
    assert AuditEntry.objects.filter(action="connection.deleted").count() == 1
    assert_error(world.api.get(url), 404, "not_found")
    assert_error(world.api.delete(url), 404, "not_found")


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"name": "   "}, "name"), ({"name": "x" * 201}, "name"), ({}, "name"), ({"name": 5}, "name")],
)
def test_rename_validation(world: World, payload: dict[str, Any], field: str) -> None:
    url = f"{BASE}/{world.known.public_id}"
    body = assert_error(world.api.patch(url, payload, content_type="application/json"), 400)
    assert field in field_names(body)
    world.known.refresh_from_db()
    assert world.known.name == "Known account"


def test_oauth_summary_never_shows_tokens(world: World) -> None:
    profile = make_profile(
        world.project, key="oauthy", name="oauth", auth_type="oauth2", required_fields=()
    )
    expires = time.time() + 3600
    row = make_connection(
        profile,
        config={},
        tokens={
            "access_token": "at-visible-never-123456",
            "refresh_token": "rt-visible-never-654321",
            "expires_at": expires,
            "scope": "contacts.read deals.write",
        },
    )
    response = world.api.get(f"{BASE}/{row.public_id}")
    oauth = response.json()["oauth"]
    assert oauth["connected"] is True
    assert oauth["scopes"] == ["contacts.read", "deals.write"]
    assert datetime.fromisoformat(oauth["expires_at"]).timestamp() == pytest.approx(expires, 1)
    text = response.content.decode()
    assert "at-visible-never-123456" not in text and "rt-visible-never-654321" not in text
    assert "123456" not in text and "654321" not in text


# --- Auth, other projects, methods --------------------------------------------------------------


def endpoints(pk: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("get", BASE, None),
        ("get", f"{BASE}/{pk}", None),
        ("patch", f"{BASE}/{pk}", {"name": "Stolen"}),
        ("delete", f"{BASE}/{pk}", None),
        ("get", f"{BASE}/{pk}/health", None),
        ("get", f"{BASE}/{pk}/rbac", None),
        ("put", f"{BASE}/{pk}/rbac", {"subject_type": "user", "subject_id": 1, "role": "owner"}),
        ("delete", f"{BASE}/{pk}/rbac?subject_type=user&subject_id=1", None),
        ("patch", f"{BASE}/{pk}/organization-role", {"role": "editor"}),
    ]


def call(client: Client, method: str, url: str, payload: dict[str, Any] | None) -> Any:
    if payload is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, payload, content_type="application/json")


@pytest.mark.parametrize("header", [None, "Bearer chk_deadbeef_wrong-key", "Basic Zm9vOg=="])
def test_every_endpoint_needs_a_valid_key(world: World, header: str | None) -> None:
    client = Client(headers={"Authorization": header} if header else {})
    for method, url, payload in endpoints(str(world.known.public_id)):
        assert_error(call(client, method, url, payload), 401, "unauthorized")
    world.known.refresh_from_db()
    assert world.known.name == "Known account" and world.known.org_role == ""


def test_another_projects_connection_is_404_everywhere(world: World) -> None:
    stranger = world.tenancy.users["stranger"]
    for method, url, payload in endpoints(str(world.other.public_id))[1:]:
        if payload and "subject_id" in payload:
            payload = {**payload, "subject_id": member_id(stranger)}
        url = url.replace("subject_id=1", f"subject_id={member_id(stranger)}")
        response = call(world.api, method, url, payload)
        body = assert_error(response, 404, "not_found")
        assert "Globex" not in response.content.decode(), (method, url, body)
    world.other.refresh_from_db()
    assert world.other.name == "Globex secret account" and world.other.org_role == ""
    assert not ConnectionGrant.objects.exists()
    # ... and the other way round.
    assert_error(world.other_api.get(f"{BASE}/{world.known.public_id}"), 404, "not_found")
    assert_error(world.api.get(f"{BASE}/999999"), 404, "not_found")
    assert_error(world.api.get(f"{BASE}/{uuid.uuid4()}"), 404, "not_found")
    # A malformed id names nothing: 404 like an unknown one (docs/api.md "Ids").
    assert_error(world.api.get(f"{BASE}/not-a-uuid"), 404, "not_found")
    assert_error(world.api.get(f"{BASE}/{world.known.pk}"), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        # POST "" and PUT "/{pk}" exist (import credentials: tests/api/test_connection_import.py).
        ("put", ""),
        ("delete", ""),
        ("post", "/{pk}"),
        ("patch", "/{pk}/requests"),
        ("delete", "/{pk}/actions/list_contacts"),
        ("post", "/{pk}/health"),
        ("delete", "/{pk}/health"),
        ("post", "/{pk}/rbac"),
        ("patch", "/{pk}/rbac"),
        ("get", "/{pk}/organization-role"),
        ("put", "/{pk}/organization-role"),
    ],
)
def test_wrong_method_is_405(world: World, method: str, path: str) -> None:
    url = BASE + path.format(pk=world.known.pk)
    assert_error(getattr(world.api, method)(url), 405, "method_not_allowed")


# --- RBAC ----------------------------------------------------------------------------------------


def test_rbac_round_trip_and_audit(world: World) -> None:
    member = world.tenancy.users["member"]
    member.first_name, member.last_name = "Mia", "Member"
    member.save()
    team = make_team(world.tenancy.organization, "Support", member)
    rbac_url = f"{BASE}/{world.known.public_id}/rbac"

    empty = world.api.get(rbac_url)
    assert empty.status_code == 200
    assert empty.json() == {"organization_role": None, "grants": []}

    put = world.api.put(
        rbac_url,
        {"subject_type": "user", "subject_id": member_id(member), "role": "editor"},
        content_type="application/json",
    )
    assert put.status_code == 200, put.content
    assert put.json()["grants"] == [
        {
            "subject_type": "user",
            "subject_id": member_id(member),
            "subject_name": "Mia Member",
            "role": "editor",
        }
    ]
    # Changing the role of an existing grant.
    put = world.api.put(
        rbac_url,
        {"subject_type": "user", "subject_id": member_id(member), "role": "owner"},
        content_type="application/json",
    )
    assert put.json()["grants"][0]["role"] == "owner"
    put = world.api.put(
        rbac_url,
        {"subject_type": "team", "subject_id": str(team.public_id), "role": "viewer"},
        content_type="application/json",
    )
    grants = {(g["subject_type"], g["subject_id"]): g for g in put.json()["grants"]}
    assert grants[("team", str(team.public_id))] == {
        "subject_type": "team",
        "subject_id": str(team.public_id),
        "subject_name": "Support",
        "role": "viewer",
    }
    assert world.api.get(rbac_url).json() == put.json()

    org = world.api.patch(
        f"{BASE}/{world.known.public_id}/organization-role",
        {"role": "viewer"},
        content_type="application/json",
    )
    assert org.status_code == 200
    assert org.json()["organization_role"] == "viewer" and len(org.json()["grants"]) == 2
    assert world.api.get(f"{BASE}/{world.known.public_id}").json()["organization_role"] == "viewer"
    cleared = world.api.patch(
        f"{BASE}/{world.known.public_id}/organization-role",
        {"role": None},
        content_type="application/json",
    )
    assert cleared.status_code == 200 and cleared.json()["organization_role"] is None

    removed = world.api.delete(f"{rbac_url}?subject_type=user&subject_id={member_id(member)}")
    assert removed.status_code == 204 and removed.content == b""
    assert [g["subject_type"] for g in world.api.get(rbac_url).json()["grants"]] == ["team"]
    assert_error(
        world.api.delete(f"{rbac_url}?subject_type=user&subject_id={member_id(member)}"),
        404,
        "not_found",
    )
    assert (
        world.api.delete(f"{rbac_url}?subject_type=team&subject_id={team.public_id}").status_code
        == 204
    )
    assert world.api.get(rbac_url).json() == {"organization_role": None, "grants": []}

    actions = list(
        AuditEntry.objects.filter(target_type="connection", target_id=str(world.known.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions[-7:] == [
        "connection.grant_set",
        "connection.grant_set",
        "connection.grant_set",
        "connection.organization_role",
        "connection.organization_role",
        "connection.grant_removed",
        "connection.grant_removed",
    ]
    entries = AuditEntry.objects.filter(action__startswith="connection.grant")
    assert all(e.actor_label.startswith("API key ") for e in entries)
    first = AuditEntry.objects.filter(action="connection.grant_set").order_by("id").first()
    assert first is not None and first.after == {"subject": "user:member", "role": "editor"}


def test_rbac_validation(world: World) -> None:
    rbac_url = f"{BASE}/{world.known.public_id}/rbac"
    stranger = world.tenancy.users["stranger"]
    foreign_team = make_team(world.tenancy.other_project.organization, "Globex team")
    member = world.tenancy.users["member"]

    def put(payload: dict[str, Any]) -> Any:
        return world.api.put(rbac_url, payload, content_type="application/json")

    cases: list[tuple[dict[str, Any], str]] = [
        (
            {"subject_type": "user", "subject_id": member_id(stranger), "role": "owner"},
            "subject_id",
        ),
        (
            {"subject_type": "team", "subject_id": str(foreign_team.public_id), "role": "owner"},
            "subject_id",
        ),
        ({"subject_type": "user", "subject_id": 999999, "role": "viewer"}, "subject_id"),
        (
            {"subject_type": "group", "subject_id": member_id(member), "role": "viewer"},
            "subject_type",
        ),
        ({"subject_type": "user", "subject_id": member_id(member), "role": "admin"}, "role"),
        ({"subject_type": "user", "subject_id": "abc", "role": "viewer"}, "subject_id"),
        ({"subject_type": "user", "role": "viewer"}, "subject_id"),
    ]
    for payload, field in cases:
        body = assert_error(put(payload), 400, "invalid")
        assert field in field_names(body), (payload, body)
    assert not ConnectionGrant.objects.exists()

    for query, field in [
        ("subject_type=group&subject_id=1", "subject_type"),
        ("subject_type=user&subject_id=x", "subject_id"),
        ("subject_type=user", "subject_id"),
    ]:
        body = assert_error(world.api.delete(f"{rbac_url}?{query}"), 400, "invalid")
        assert field in field_names(body), (query, body)

    org_url = f"{BASE}/{world.known.public_id}/organization-role"
    for payload in [{"role": "owner"}, {"role": "admin"}, {}]:
        body = assert_error(
            world.api.patch(org_url, payload, content_type="application/json"), 400, "invalid"
        )
        assert "role" in field_names(body), (payload, body)
    world.known.refresh_from_db()
    assert world.known.org_role == ""


# --- Health, against a real HTTP server on loopback ---------------------------------------------


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        yield server


def checked(world: World, provider: Provider) -> Connection:
    profile = make_profile(
        world.project, key="pinger", name="pinger", base_url=provider.url, health_path="/me"
    )
    return make_connection(profile, "cust-ping", config={"api_key": SECRET})


@pytest.mark.parametrize(
    ("status", "health", "connection_status"),
    [
        (200, "healthy", "active"),
        (401, "needs_reauth", "needs_reauth"),
        (500, "unhealthy", "error"),
    ],
)
def test_health_runs_a_real_check(
    world: World, provider: Provider, status: int, health: str, connection_status: str
) -> None:
    provider.routes["/me"] = Answer(status, {"echo": "whatever"})
    row = checked(world, provider)
    response = world.api.get(f"{BASE}/{row.public_id}/health")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"status", "checked_at", "detail"}
    assert body["status"] == health
    assert body["checked_at"] is not None
    assert str(status) in body["detail"]
    assert SECRET not in response.content.decode()
    (seen,) = provider.calls("/me")
    assert seen.headers["Authorization"] == f"Bearer {SECRET}"  # the real credential was sent
    row.refresh_from_db()
    assert row.health == health and row.status == connection_status
    detail = world.api.get(f"{BASE}/{row.public_id}").json()
    assert detail["health"]["status"] == health
    assert detail["health"]["checked_at"] is not None
    assert (detail["health"]["last_healthy_at"] is not None) == (health == "healthy")


def test_health_without_a_health_check_is_unknown(world: World) -> None:
    response = world.api.get(f"{BASE}/{world.known.public_id}/health")
    assert response.status_code == 200
    assert response.json()["status"] == "unknown"
    assert "healthCheck" in response.json()["detail"]


# --- Refreshing OAuth tokens, against a real token endpoint on loopback --------------------------

OLD_ACCESS = "at-old-0000000000000001"
OLD_REFRESH = "rt-old-0000000000000002"
NEW_ACCESS = "at-new-9999999999999991"
NEW_REFRESH = "rt-new-9999999999999992"
CLIENT_SECRET = "cs-client-secret-77777777"


def oauth_connection(world: World, provider: Provider) -> Connection:
    profile = make_profile(
        world.project,
        key="oauthy",
        name="oauth",
        auth_type="oauth2",
        required_fields=(),
        token_url=f"{provider.url}/token",
        setup_fields=("client_id", "client_secret"),
        setup={"client_id": "hub-client", "client_secret": CLIENT_SECRET},
    )
    return make_connection(
        profile,
        "cust-oauth",
        config={},
        tokens={
            "access_token": OLD_ACCESS,
            "refresh_token": OLD_REFRESH,
            "expires_at": time.time() + 3600,
            "scope": "contacts.read",
        },
    )


def test_refresh_oauth_tokens_stores_the_new_token(world: World, provider: Provider) -> None:
    provider.routes["/token"] = Answer(
        200,
        {
            "access_token": NEW_ACCESS,
            "token_type": "bearer",
            "expires_in": 3600,
            "refresh_token": NEW_REFRESH,
        },
    )
    row = oauth_connection(world, provider)
    before = row.token_expires_at
    response = world.api.get(f"{BASE}/{row.public_id}", {"refresh_oauth_tokens": "true"})
    assert response.status_code == 200, response.content
    (call_,) = provider.calls("/token")
    assert call_.form["grant_type"] == ["refresh_token"]
    assert call_.form["refresh_token"] == [OLD_REFRESH]
    row.refresh_from_db()
    stored = decrypt_json(row.oauth_tokens)
    assert stored["access_token"] == NEW_ACCESS and stored["refresh_token"] == NEW_REFRESH
    text = response.content.decode()
    for token in (OLD_ACCESS, OLD_REFRESH, NEW_ACCESS, NEW_REFRESH, CLIENT_SECRET):
        assert token not in text
    body = response.json()
    assert body["oauth"]["connected"] is True
    assert body["oauth"]["scopes"] == ["contacts.read"]
    assert row.token_expires_at is not None and before is not None
    assert datetime.fromisoformat(body["oauth"]["expires_at"]) == row.token_expires_at
    assert AuditEntry.objects.filter(action="connection.tokens_refreshed").count() == 1
    # Without the flag nothing is refreshed.
    assert world.api.get(f"{BASE}/{row.public_id}").status_code == 200
    assert len(provider.calls("/token")) == 1


def test_refresh_against_a_failing_token_endpoint_is_502(world: World, provider: Provider) -> None:
    provider.routes["/token"] = Answer(500, {"error": "server_error"})
    row = oauth_connection(world, provider)
    response = world.api.get(f"{BASE}/{row.public_id}?refresh_oauth_tokens=true")
    body = assert_error(response, 502, "upstream_error")
    assert "token endpoint" in body["message"]
    for token in (OLD_ACCESS, OLD_REFRESH, CLIENT_SECRET):
        assert token not in response.content.decode()
    row.refresh_from_db()
    assert decrypt_json(row.oauth_tokens)["access_token"] == OLD_ACCESS  # kept


def test_refresh_refused_by_the_provider_marks_needs_reauth(
    world: World, provider: Provider
) -> None:
    provider.routes["/token"] = Answer(400, {"error": "invalid_grant"})
    row = oauth_connection(world, provider)
    response = world.api.get(f"{BASE}/{row.public_id}", {"refresh_oauth_tokens": "true"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "needs_reauth"
    assert response.json()["health"]["status"] == "needs_reauth"
    assert len(provider.calls("/token")) == 1  # no retry loop
    assert OLD_REFRESH not in response.content.decode()


def test_refresh_of_a_connection_without_oauth_is_400(world: World) -> None:
    body = assert_error(
        world.api.get(f"{BASE}/{world.known.public_id}", {"refresh_oauth_tokens": "true"}), 400
    )
    assert body["message"] == "this connection has no OAuth tokens"
    assert field_names(body) == {"refresh_oauth_tokens"}


# --- Secrets, profiles, OpenAPI -----------------------------------------------------------------


def test_known_secret_never_in_any_response(world: World, provider: Provider) -> None:
    provider.routes["/me"] = Answer(401, {"error": f"bad key {SECRET}"})
    pinged = checked(world, provider)
    member = world.tenancy.users["member"]
    responses = [
        world.api.get(BASE),
        world.api.get(BASE, {"search": SECRET}),
        world.api.get(BASE, {"name__icontains": SECRET}),
        world.api.get(BASE, {"created_at__gte": SECRET}),
        world.api.get(f"{BASE}/{world.known.public_id}"),
        world.api.patch(
            f"{BASE}/{world.known.public_id}",
            {"name": "Still known"},
            content_type="application/json",
        ),
        world.api.put(
            f"{BASE}/{world.known.public_id}/rbac",
            {"subject_type": "user", "subject_id": member_id(member), "role": "viewer"},
            content_type="application/json",
        ),
        world.api.get(f"{BASE}/{world.known.public_id}/rbac"),
        world.api.get(f"{BASE}/{pinged.public_id}/health"),
        world.api.get(f"{BASE}/{pinged.public_id}"),
        world.api.get(f"{BASE}/{world.known.public_id}/health"),
    ]
    masks = 0
    for response in responses:
        raw = response.content.decode()
        text = json.dumps(response.json(), ensure_ascii=False)
        for shown in (raw, text):
            assert SECRET not in shown, response.request
            assert SECRET[4:] not in shown and SECRET[-8:] not in shown
        masks += MASK in text
    assert masks == 4  # the list, detail, PATCH and the pinged connection show the mask
    assert "created_at__gte" in str(responses[3].json()["fields"])


def test_profiles_api_counts_real_connections(world: World) -> None:
    staging = make_profile(world.project, name="staging", version="1.1.0")
    for _ in range(3):
        make_connection(staging)
    listed = {
        p["id"]: p["connection_count"] for p in world.api.get("/api/v1/connector_profiles").json()
    }
    assert listed == {str(world.profile.public_id): 1, str(staging.public_id): 3}
    detail = world.api.get(f"/api/v1/connector_profiles/{staging.public_id}").json()
    assert detail["connection_count"] == 3
    world.api.delete(f"{BASE}/{world.known.public_id}")
    detail = world.api.get(f"/api/v1/connector_profiles/{world.profile.public_id}").json()
    assert detail["connection_count"] == 0


def test_profiles_list_counts_in_one_query(world: World) -> None:
    def count_queries() -> int:
        world.api.get("/api/v1/connector_profiles")  # the key's last-used stamp, caches
        with CaptureQueriesContext(db) as ctx:
            assert world.api.get("/api/v1/connector_profiles").status_code == 200
        return len(ctx.captured_queries)

    few = count_queries()
    for n in range(3):
        profile = make_profile(world.project, key=f"extra_{n}", name=f"extra {n}")
        make_connection(profile)
    assert count_queries() == few


def test_openapi_describes_the_connection_endpoints(client: Client) -> None:
    doc = client.get("/api/v1/openapi.json").json()
    paths = doc["paths"]
    expected = {
        "/api/v1/connections": {"get", "post"},
        "/api/v1/connections/available": {"get"},
        "/api/v1/connections/{connection_id}": {"get", "put", "patch", "delete"},
        "/api/v1/connections/{connection_id}/health": {"get"},
        "/api/v1/connections/{connection_id}/rbac": {"get", "put", "delete"},
        "/api/v1/connections/{connection_id}/organization-role": {"patch"},
    }
    for path, methods in expected.items():
        assert set(paths[path]) == methods, path
        for method in methods:
            operation = paths[path][method]
            assert operation["tags"] == ["connections"]
            assert operation["summary"]
    schemas = doc["components"]["schemas"]
    assert {"ConnectionOut", "ConnectionPageOut", "RbacOut", "GrantIn", "HealthCheckOut"} <= set(
        schemas
    )
    assert set(schemas["ConnectionOut"]["properties"]) == ITEM_KEYS
    params = {p["name"] for p in paths["/api/v1/connections"]["get"]["parameters"]}
    assert {"connector_key", "profile_id", "status", "search", "limit", "offset"} <= params
    assert {"sort_by", "sort_dir", "health", "resolved_version"} <= params
    health = paths["/api/v1/connections/{connection_id}/health"]["get"]
    assert "unknown" in health["description"] and "healthCheck" in health["description"]
    assert "field__operator" in paths["/api/v1/connections"]["get"]["description"]


def test_total_above_the_cap_is_bounded_and_marked_inexact(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above the cap a search's count stops early (bounded cost) and says so with total_exact;
    a total the counters keep is exact at any size."""
    from connections.selectors import listing

    monkeypatch.setattr(listing, "COUNT_CAP", 2)
    for n in range(4):
        make_connection(world.profile, f"cap-{n}")
    body = world.api.get("/api/v1/connections?limit=1&search=cap-").json()
    assert body["total_exact"] is False
    assert body["total"] >= 3  # the planner's estimate (PostgreSQL) or the cap + 1
    assert len(body["items"]) == 1
    counted = world.api.get("/api/v1/connections?limit=1").json()
    assert counted["total_exact"] is True
    assert counted["total"] == Connection.objects.filter(project=world.project).count() > 2
