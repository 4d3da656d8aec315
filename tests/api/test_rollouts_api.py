"""The profile-migration endpoints, with docs/api.md's conventions."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.db import connection as db
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from connections.models import Connection, ConnectSession, Status
from connections.services.connect import connect_with_config
from profiles.models import ConnectorProfile
from profiles.services import profile_create
from projects.models import Project
from projects.services import Actor
from rollouts.models import MigrationNotice, ProfileMigration
from rollouts.services import migration_complete, migration_create, migration_link
from tests.conftest import Tenancy
from tests.factories import make_api_key, make_connection, make_profile, update_connections

pytestmark = pytest.mark.django_db
BASE = "/api/v1/migrations"
SYSTEM = Actor.system()
MIGRATION_KEYS = {
    "id",
    "title",
    "from_profile_id",
    "from_profile_name",
    "to_profile_id",
    "to_profile_name",
    "connector_key",
    "started_at",
    "deadline",
    "completed_at",
    "status",
    "pending",
    "migrated",
    "total",
    "percent",
    "deadline_action",
    "reminder_days",
    "reminders",
}
DETAIL_KEYS = MIGRATION_KEYS | {"message", "notices_sent", "accounts_notified"}
ACCOUNT_KEYS = {
    "id",
    "origin_owner_id",
    "origin_owner_name",
    "email",
    "status",
    "notices_sent",
    "last_sent_at",
    "reconnect_url",
}


@dataclass
class World:
    project: Project
    api: Client
    old: ConnectorProfile
    new: ConnectorProfile
    accounts: list[Connection]  # oldest first
    migration: ProfileMigration
    other: ProfileMigration  # another project's


def start(project: Project, old: ConnectorProfile, new: ConnectorProfile, **kw: Any) -> Any:
    return migration_create(
        actor=SYSTEM,
        project=project,
        from_profile=old,
        to_profile=new,
        title=kw.pop("title", "Move to v1b"),
        **kw,
    )


def profiles_of(project: Project, prefix: str = "") -> tuple[ConnectorProfile, ConnectorProfile]:
    old = make_profile(project, "acme_crm", f"{prefix}v1", version="1.0.0", pin="1.x.x")
    new = profile_create(
        actor=SYSTEM, project=project, connector_key="acme_crm", name=f"{prefix}v1b", pin="1.0.0"
    )
    return old, new


@pytest.fixture
def world(tenancy: Tenancy) -> World:
    old, new = profiles_of(tenancy.project)
    accounts = [
        make_connection(old, f"u{n}", email=f"u{n}@x.example", origin_owner_name=f"User {n}")
        for n in range(4)
    ]
    make_connection(new, "already-on-new")  # on the to-profile, never moved: not counted
    deadline = timezone.now() + timedelta(days=14)
    migration = start(
        tenancy.project, old, new, message="Please reconnect your CRM.", deadline=deadline
    )
    other_old, other_new = profiles_of(tenancy.other_project, "globex-")
    make_connection(other_old, "globex-secret-owner")
    other = start(tenancy.other_project, other_old, other_new, title="Globex secret move")
    api = Client(headers={"Authorization": f"Bearer {make_api_key(tenancy.project)[1]}"})
    return World(tenancy.project, api, old, new, accounts, migration, other)


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code and isinstance(body["message"], str) and body["message"]
    return body


def same_time(text: str, value: datetime | None) -> bool:
    """The API's JSON times carry milliseconds."""
    assert value is not None
    return abs(datetime.fromisoformat(text) - value) < timedelta(milliseconds=1)


def reauthenticate(url: str, api_key: str = "sk_new_0123456789abc") -> Connection:
    """What the end user does with the link: the hosted page's form, through the service."""
    token = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    return connect_with_config(token=token, values={"api_key": api_key})


def link(world: World, account: Connection) -> str:
    return migration_link(actor=SYSTEM, migration=world.migration, connection=account)[1]


# --- Happy paths -------------------------------------------------------------------------------


def test_list(world: World) -> None:
    response = world.api.get(BASE)
    assert response.status_code == 200
    body = response.json()
    assert [m["id"] for m in body] == [str(world.migration.public_id)]  # never the other project's
    item = body[0]
    assert set(item) == MIGRATION_KEYS
    m = world.migration
    assert item["title"] == "Move to v1b"
    assert (item["from_profile_id"], item["from_profile_name"]) == (str(world.old.public_id), "v1")
    assert (item["to_profile_id"], item["to_profile_name"]) == (str(world.new.public_id), "v1b")
    assert item["connector_key"] == "acme_crm"
    assert same_time(item["started_at"], m.started_at)
    assert same_time(item["deadline"], m.deadline)
    assert item["completed_at"] is None and item["status"] == "in_progress"
    assert (item["pending"], item["migrated"], item["total"], item["percent"]) == (4, 0, 4, 0.0)


def test_detail(world: World) -> None:
    response = world.api.get(f"{BASE}/{world.migration.public_id}")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == DETAIL_KEYS
    assert body["message"] == "Please reconnect your CRM."
    assert (body["notices_sent"], body["accounts_notified"]) == (0, 0)
    listed = world.api.get(BASE).json()[0]
    assert {k: body[k] for k in MIGRATION_KEYS} == listed


def test_pending_page(world: World) -> None:
    response = world.api.get(f"{BASE}/{world.migration.public_id}/pending")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"items", "total", "limit", "offset"}
    assert (body["total"], body["limit"], body["offset"]) == (4, 50, 0)
    newest_first = [str(a.public_id) for a in reversed(world.accounts)]
    assert [i["id"] for i in body["items"]] == newest_first
    first = body["items"][-1]
    assert set(first) == ACCOUNT_KEYS
    assert first == {
        "id": str(world.accounts[0].public_id),
        "origin_owner_id": "u0",
        "origin_owner_name": "User 0",
        "email": "u0@x.example",
        "status": "active",
        "notices_sent": 0,
        "last_sent_at": None,
        "reconnect_url": None,
    }
    page = world.api.get(f"{BASE}/{world.migration.public_id}/pending?limit=2&offset=1").json()
    assert [i["id"] for i in page["items"]] == newest_first[1:3]
    assert (page["total"], page["limit"], page["offset"]) == (4, 2, 1)
    beyond = world.api.get(f"{BASE}/{world.migration.public_id}/pending?limit=200&offset=10").json()
    assert beyond["items"] == [] and beyond["total"] == 4


def test_basic_auth_works_too(world: World) -> None:
    raw = make_api_key(world.project, "basic")[1]
    header = "Basic " + base64.b64encode(f"{raw}:".encode()).decode()
    response = Client().get(BASE, headers={"Authorization": header})
    assert response.status_code == 200 and len(response.json()) == 1


# --- Progress after re-authentication ---------------------------------------------------------


def test_real_reauthentication_moves_an_account_to_migrated(world: World) -> None:
    moved = world.accounts[1]
    url = link(world, moved)
    connection = reauthenticate(url)
    assert connection.pk == moved.pk and connection.profile_id == world.new.pk
    assert connection.moved_from_profile_id == world.old.pk and connection.moved_at is not None

    item = world.api.get(BASE).json()[0]
    assert (item["pending"], item["migrated"], item["total"], item["percent"]) == (3, 1, 4, 25.0)
    detail = world.api.get(f"{BASE}/{world.migration.public_id}").json()
    assert (detail["pending"], detail["migrated"], detail["percent"]) == (3, 1, 25.0)
    pending = world.api.get(f"{BASE}/{world.migration.public_id}/pending").json()
    assert pending["total"] == 3 and str(moved.public_id) not in [i["id"] for i in pending["items"]]


def test_counts_follow_moves_and_completion(world: World) -> None:
    # Two moved as a re-authentication would; one moved before the start does not count.
    a, b, c = world.accounts[:3]
    now = timezone.now()
    update_connections(
        Connection.objects.filter(pk__in=[a.pk, b.pk]),
        profile=world.new,
        moved_from_profile=world.old,
        moved_at=now,
    )
    update_connections(
        Connection.objects.filter(pk=c.pk),
        profile=world.new,
        moved_from_profile=world.old,
        moved_at=world.migration.started_at - timedelta(days=1),
    )
    item = world.api.get(BASE).json()[0]
    assert (item["pending"], item["migrated"], item["total"], item["percent"]) == (1, 2, 3, 66.7)
    migration_complete(actor=SYSTEM, migration=world.migration)
    detail = world.api.get(f"{BASE}/{world.migration.public_id}").json()
    assert detail["status"] == "complete" and detail["completed_at"] is not None
    assert (detail["pending"], detail["migrated"]) == (1, 2)


# --- Reconnect links and notice tracking ------------------------------------------------------


def pending_item(world: World, account: Connection) -> dict[str, Any]:
    items = world.api.get(f"{BASE}/{world.migration.public_id}/pending").json()["items"]
    return next(i for i in items if i["id"] == str(account.public_id))


def test_reconnect_url_is_the_current_valid_link_and_never_created_on_get(world: World) -> None:
    account = world.accounts[0]
    assert pending_item(world, account)["reconnect_url"] is None
    assert not ConnectSession.objects.exists() and not MigrationNotice.objects.exists()

    url = link(world, account)
    assert pending_item(world, account)["reconnect_url"] == url
    assert [
        i["reconnect_url"]
        for i in world.api.get(f"{BASE}/{world.migration.public_id}/pending").json()["items"]
        if i["id"] != str(account.public_id)
    ] == [None] * 3
    assert ConnectSession.objects.count() == 1  # the GETs made none

    # Used (the account re-authenticated elsewhere then came back) or nearly expired: null.
    ConnectSession.objects.update(used_at=timezone.now())
    assert pending_item(world, account)["reconnect_url"] is None
    ConnectSession.objects.update(used_at=None, expires_at=timezone.now() + timedelta(minutes=5))
    assert pending_item(world, account)["reconnect_url"] is None
    assert ConnectSession.objects.count() == 1


def test_notice_tracking(world: World, django_capture_on_commit_callbacks: Any) -> None:
    from rollouts.services import migration_notify

    chosen = world.accounts[:2]
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            migration_notify(
                actor=SYSTEM,
                migration=world.migration,
                connection_ids=[a.public_id for a in chosen],
            )
    with django_capture_on_commit_callbacks(execute=True):
        migration_notify(
            actor=SYSTEM,
            migration=world.migration,
            connection_ids=[world.accounts[2].public_id],
        )
    detail = world.api.get(f"{BASE}/{world.migration.public_id}").json()
    assert (detail["notices_sent"], detail["accounts_notified"]) == (5, 3)
    item = pending_item(world, chosen[0])
    assert item["notices_sent"] == 2
    assert item["last_sent_at"] is not None
    notice = MigrationNotice.objects.get(connection=chosen[0])
    assert same_time(item["last_sent_at"], notice.last_sent_at)
    assert item["reconnect_url"] is not None and "/connect/" in item["reconnect_url"]
    # The link in the API is the one the email carried, and it works.
    assert reauthenticate(item["reconnect_url"]).profile_id == world.new.pk
    assert pending_item(world, chosen[1])["notices_sent"] == 2
    assert pending_item(world, world.accounts[3])["notices_sent"] == 0


def test_the_pending_list_costs_the_same_queries_at_any_page_size(world: World) -> None:
    url = f"{BASE}/{world.migration.public_id}/pending?limit=200"

    def queries() -> int:
        cache.clear()  # the progress figures are cached: compare cold requests
        with CaptureQueriesContext(db) as ctx:
            response = world.api.get(url)
        assert response.status_code == 200
        return len(ctx.captured_queries)

    small = [*world.accounts, make_connection(world.old, "u4", email="u4@x.example")]
    for account in small:
        link(world, account)
    update_connections(Connection.objects.filter(pk=small[0].pk), status=Status.NEEDS_REAUTH)
    world.api.get(BASE)  # the key's first use of the day records it (one more query)
    five = queries()
    for n in range(5, 45):
        link(world, make_connection(world.old, f"u{n}", email=f"u{n}@x.example"))
    forty_five = queries()
    body = world.api.get(url).json()
    assert body["total"] == 45 and len(body["items"]) == 45
    assert all(i["reconnect_url"] for i in body["items"])
    # key, migration, pending + migrated counts (cold cache), page, notices with sessions
    assert five == forty_five == 6
    # A new pending account shows in the total at once (its creation clears the figures).
    make_connection(world.old, "u-late", email="late@x.example")
    assert world.api.get(url).json()["total"] == 46


def test_the_list_costs_the_same_queries_for_more_migrations(world: World) -> None:
    def queries() -> int:
        with CaptureQueriesContext(db) as ctx:
            assert world.api.get(BASE).status_code == 200
        return len(ctx.captured_queries)

    world.api.get(BASE)  # the key's first use of the day records it (one more query)
    one = queries()
    for n in range(3):
        a, b = (
            profile_create(actor=SYSTEM, project=world.project, connector_key="acme_crm", name=name)
            for name in (f"from {n}", f"to {n}")
        )
        start(world.project, a, b, title=f"Move {n}")
    assert len(world.api.get(BASE).json()) == 4
    assert queries() == one


# --- Auth, other projects, methods, input -------------------------------------------------------


def paths(pk: str) -> list[str]:
    return [BASE, f"{BASE}/{pk}", f"{BASE}/{pk}/pending"]


@pytest.mark.parametrize("header", [None, "Bearer chk_deadbeef_wrong-key", "Basic Zm9vOg=="])
def test_every_endpoint_needs_a_valid_key(world: World, header: str | None) -> None:
    client = Client(headers={"Authorization": header} if header else {})
    for url in paths(str(world.migration.public_id)):
        assert_error(client.get(url), 401, "unauthorized")


def test_another_projects_migration_is_404(world: World) -> None:
    for url in paths(str(world.other.public_id))[1:]:
        response = world.api.get(url)
        assert_error(response, 404, "not_found")
        assert (
            "Globex" not in response.content.decode() and "globex" not in response.content.decode()
        )
    assert_error(world.api.get(f"{BASE}/999999"), 404, "not_found")
    assert_error(world.api.get(f"{BASE}/999999/pending"), 404, "not_found")
    assert_error(world.api.get(f"{BASE}/{world.migration.pk}"), 404, "not_found")
    assert_error(world.api.get(f"{BASE}/not-a-uuid/pending"), 404, "not_found")
    assert_error(world.api.get(f"{BASE}/{uuid.uuid4()}"), 404, "not_found")
    # ... and the other project's key sees only its own.
    theirs = Client(headers={"Authorization": f"Bearer {make_api_key(world.other.project)[1]}"})
    assert [m["id"] for m in theirs.get(BASE).json()] == [str(world.other.public_id)]
    assert_error(theirs.get(f"{BASE}/{world.migration.public_id}"), 404, "not_found")


# POST /migrations and PATCH /migrations/{id} exist (tests/api/test_staged_rollouts_api.py).
WRONG_METHODS = [
    (method, index)
    for method in ("post", "put", "patch", "delete")
    for index in (0, 1, 2)
    if (method, index) not in {("post", 0), ("patch", 1)}
]


@pytest.mark.parametrize(("method", "index"), WRONG_METHODS)
def test_wrong_method_is_405(world: World, method: str, index: int) -> None:
    url = paths(str(world.migration.public_id))[index]
    assert_error(getattr(world.api, method)(url), 405, "method_not_allowed")
    assert ProfileMigration.objects.filter(pk=world.migration.pk, completed_at=None).exists()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=-5", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("offset=x", "offset"),
    ],
)
def test_bad_limit_or_offset_is_400_naming_the_field(world: World, query: str, field: str) -> None:
    body = assert_error(
        world.api.get(f"{BASE}/{world.migration.public_id}/pending?{query}"), 400, "invalid"
    )
    assert [f["field"] for f in body["fields"]] == [field]


def test_limit_bounds_are_accepted(world: World) -> None:
    for query in ("limit=1", "limit=200", "offset=0"):
        assert (
            world.api.get(f"{BASE}/{world.migration.public_id}/pending?{query}").status_code == 200
        )


def test_openapi_describes_the_endpoints(client: Client) -> None:
    doc = client.get("/api/v1/openapi.json").json()
    paths_ = doc["paths"]
    assert set(paths_["/api/v1/migrations"]) == {"get", "post"}
    assert set(paths_["/api/v1/migrations/{migration_id}"]) == {"get", "patch"}
    pending = paths_["/api/v1/migrations/{migration_id}/pending"]["get"]
    params = {p["name"]: p for p in pending["parameters"]}
    assert set(params) == {"migration_id", "limit", "offset"}
    assert params["limit"]["schema"]["maximum"] == 200 and params["limit"]["schema"]["minimum"] == 1
    assert params["offset"]["schema"]["minimum"] == 0
    schemas = doc["components"]["schemas"]
    assert set(schemas["MigrationOut"]["properties"]) == MIGRATION_KEYS
    assert set(schemas["MigrationDetailOut"]["properties"]) == DETAIL_KEYS
    assert set(schemas["PendingAccountOut"]["properties"]) == ACCOUNT_KEYS
    assert set(schemas["PendingPageOut"]["properties"]) == {"items", "total", "limit", "offset"}
    assert pending["security"]
