"""Opaque public ids (docs/api.md "Ids"): connections, profiles, migrations, users and teams
are UUIDs in every API body and every dashboard URL; a malformed id, an integer primary key and
another tenant's UUID are all 404."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from connections.models import Connection, SubjectType
from connections.services.connections import grant_set
from profiles.models import ConnectorProfile
from profiles.services import profile_create
from projects.models import Team
from projects.services import Actor
from rollouts.models import ProfileMigration
from rollouts.services import migration_create
from tests.conftest import Tenancy
from tests.factories import make_api_key, make_connection, make_profile, make_team, member_id

SYSTEM = Actor.system()
# Keys that hold ids of other things than connections, profiles, migrations, users and teams.
NOT_OURS = {"origin_owner_id"}


@dataclass
class World:
    api: Client
    profile: ConnectorProfile
    connection: Connection
    migration: ProfileMigration
    theirs: dict[str, Any]  # another organization's objects, by kind


def _migration_of(project: Any, prefix: str) -> tuple[ConnectorProfile, Connection, Any]:
    old = make_profile(project, "acme_crm", f"{prefix}v1", version="1.0.0", pin="1.x.x")
    new = profile_create(
        actor=SYSTEM, project=project, connector_key="acme_crm", name=f"{prefix}v2", pin="1.0.0"
    )
    connection = make_connection(old, f"{prefix}owner", email="owner@x.example")
    migration = migration_create(
        actor=SYSTEM, project=project, from_profile=old, to_profile=new, title="Move"
    )
    return old, connection, migration


@pytest.fixture
def world(tenancy: Tenancy) -> World:
    profile, connection, migration = _migration_of(tenancy.project, "")
    team = make_team(tenancy.organization, "Support")
    grant_set(
        actor=SYSTEM,
        connection=connection,
        subject_type=SubjectType.TEAM,
        subject_id=team.public_id,
        role="viewer",
    )
    grant_set(
        actor=SYSTEM,
        connection=connection,
        subject_type=SubjectType.USER,
        subject_id=member_id(tenancy.users["member"]),
        role="editor",
    )
    their_profile, their_connection, their_migration = _migration_of(
        tenancy.other_project, "globex-"
    )
    api = Client(headers={"Authorization": f"Bearer {make_api_key(tenancy.project)[1]}"})
    theirs = {
        "connection": their_connection,
        "profile": their_profile,
        "migration": their_migration,
    }
    return World(api, profile, connection, migration, theirs)


def _ids(body: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every (path, value) of a key named ``id`` or ``*_id`` in a JSON body."""
    found: list[tuple[str, Any]] = []
    if isinstance(body, dict):
        for key, value in body.items():
            if (key == "id" or key.endswith("_id")) and key not in NOT_OURS:
                found.append((f"{path}.{key}", value))
            found += _ids(value, f"{path}.{key}")
    elif isinstance(body, list):
        for n, value in enumerate(body):
            found += _ids(value, f"{path}[{n}]")
    return found


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def test_every_id_in_the_api_bodies_is_a_uuid(tenancy: Tenancy, world: World) -> None:
    c, p, m = world.connection.public_id, world.profile.public_id, world.migration.public_id
    bodies = {
        url: world.api.get(url)
        for url in (
            "/api/v1/connections",
            f"/api/v1/connections/{c}",
            f"/api/v1/connections/{c}/rbac",
            "/api/v1/connector_profiles",
            f"/api/v1/connector_profiles/{p}",
            "/api/v1/migrations",
            f"/api/v1/migrations/{m}",
            f"/api/v1/migrations/{m}/pending",
        )
    }
    seen: set[str] = set()
    for url, response in bodies.items():
        assert response.status_code == 200, (url, response.content)
        ids = _ids(response.json())
        assert ids, url
        bad = [(path, value) for path, value in ids if value is not None and not _is_uuid(value)]
        assert not bad, (url, bad)
        seen |= {str(value) for _path, value in ids if value is not None}
    # Each kind of object shows its public id, never its primary key.
    grants = bodies[f"/api/v1/connections/{c}/rbac"].json()["grants"]
    assert {g["subject_id"] for g in grants} == {
        member_id(tenancy.users["member"]),
        str(Team.objects.get(name="Support").public_id),
    }
    assert {str(c), str(p), str(m), str(world.migration.to_profile.public_id)} <= seen


def test_filters_and_inputs_take_uuids(world: World) -> None:
    p = world.profile.public_id
    listed = world.api.get("/api/v1/connections", {"profile_id": str(p)}).json()
    assert [item["id"] for item in listed["items"]] == [str(world.connection.public_id)]
    by_id = world.api.get("/api/v1/connections", {"id__in": str(world.connection.public_id)})
    assert by_id.json()["total"] == 1
    wrong = world.api.get("/api/v1/connections", {"id__eq": str(world.connection.pk)})
    assert wrong.status_code == 400 and wrong.json()["fields"][0]["field"] == "id__eq"
    session = world.api.post(
        "/api/v1/connect_sessions",
        {"origin_owner_id": "x", "connector_profile_id": str(p)},
        content_type="application/json",
    )
    assert session.status_code == 201, session.content
    reauth = world.api.post(
        "/api/v1/connect_sessions",
        {
            "origin_owner_id": "x",
            "connector_profile_id": str(p),
            "account_id": str(world.connection.public_id),
        },
        content_type="application/json",
    )
    assert reauth.status_code == 201, reauth.content
    # A profile's primary key is not an id the API knows.
    by_pk = world.api.post(
        "/api/v1/connect_sessions",
        {"origin_owner_id": "x", "connector_profile_id": world.profile.pk},
        content_type="application/json",
    )
    assert by_pk.status_code == 400


@pytest.mark.parametrize("kind", ["connection", "profile", "migration"])
def test_malformed_integer_and_foreign_ids_are_404(world: World, kind: str) -> None:
    base = {
        "connection": "/api/v1/connections",
        "profile": "/api/v1/connector_profiles",
        "migration": "/api/v1/migrations",
    }[kind]
    own = getattr(world, kind)
    theirs = world.theirs[kind]
    for bad in ("not-a-uuid", str(own.pk), "1" * 40, str(uuid.uuid4()), str(theirs.public_id)):
        response = world.api.get(f"{base}/{bad}")
        assert response.status_code == 404, (bad, response.content)
        assert response.json()["code"] == "not_found"
        assert "globex" not in response.content.decode()
    assert world.api.get(f"{base}/{own.public_id}").status_code == 200


@pytest.mark.parametrize("kind", ["connection", "profile", "migration"])
def test_dashboard_urls_take_uuids_only(tenancy: Tenancy, world: World, kind: str) -> None:
    slug = tenancy.project.slug
    name = {
        "connection": "connection_detail",
        "profile": "profile_detail",
        "migration": "migration_detail",
    }[kind]
    own = getattr(world, kind)
    owner = tenancy.client("owner")
    url = reverse(name, args=[slug, own.public_id])
    assert owner.get(url).status_code == 200
    for bad in ("not-a-uuid", str(own.pk), str(uuid.uuid4()), str(world.theirs[kind].public_id)):
        assert owner.get(url.replace(str(own.public_id), bad)).status_code == 404, bad


def test_dashboard_links_carry_no_integer_ids(tenancy: Tenancy, world: World) -> None:
    slug = tenancy.project.slug
    owner = tenancy.client("owner")
    pages = [
        reverse("connection_list", args=[slug]),
        reverse("connection_detail", args=[slug, world.connection.public_id]),
        reverse("connection_detail", args=[slug, world.connection.public_id]) + "?tab=access",
        reverse("profile_list", args=[slug]),
        reverse("profile_detail", args=[slug, world.profile.public_id]),
        reverse("migration_list", args=[slug]),
        reverse("migration_detail", args=[slug, world.migration.public_id]),
    ]
    integer_link = re.compile(r"/(connections|profiles|migrations)/\d+/|[?&]profile=\d+[&\"]")
    posted_ids = re.compile(
        r'name="(ids|page_ids|profile|subject|subject_id|from_profile|to_profile)" value="(\d+)"'
    )
    for page in pages:
        html = owner.get(page).content.decode()
        assert not integer_link.search(html), (page, integer_link.findall(html))
        assert not posted_ids.search(html), (page, posted_ids.findall(html))
    detail = owner.get(pages[1] + "?tab=access").content.decode()
    subjects = re.findall(r'value="(user|team):([^"]*)"', detail)
    assert subjects and all(_is_uuid(value) for _kind, value in subjects), subjects
    members = {
        member_id(u, tenancy.organization) for n, u in tenancy.users.items() if n != "stranger"
    }
    assert {value for kind, value in subjects if kind == "user"} <= members
