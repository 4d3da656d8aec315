"""The RBAC matrix at the source: one permission-scoped selector and one role computation
serve lists, counts, detail pages and bulk actions alike."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import connection as db_connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from connections import rbac, selectors
from connections.models import Connection, ConnectionGrant, Status
from connections.permissions import get_connection_for_user
from connections.rbac import ConnNeed
from connections.services.connections import (
    connection_set_org_role,
    connections_bulk,
    grant_remove,
    grant_set,
)
from projects.models import Membership, Role
from projects.services import Actor, ServiceError
from tests.factories import (
    make_connection,
    make_member,
    make_organization,
    make_profile,
    make_project,
    make_team,
    member_id,
)

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


@pytest.fixture
def world() -> dict[str, Any]:
    org = make_organization("acme")
    project = make_project(org, "acme-prod")
    profile = make_profile(project)
    users = {
        "owner": make_member(org, Role.OWNER),
        "admin": make_member(org, Role.ADMIN),
        "user_grant": make_member(org, Role.MEMBER),
        "team_grant": make_member(org, Role.MEMBER),
        "org_role": make_member(org, Role.MEMBER),
        "nothing": make_member(org, Role.MEMBER),
        "viewer": make_member(org, Role.VIEWER),
    }
    other = make_organization("globex")
    users["stranger"] = make_member(other, Role.OWNER)
    team = make_team(org, "Support", users["team_grant"])
    granted, teamed, shared, hidden = (make_connection(profile) for _ in range(4))
    grant_set(
        actor=SYSTEM,
        connection=granted,
        subject_type="user",
        subject_id=member_id(users["user_grant"]),
        role="owner",
    )
    grant_set(
        actor=SYSTEM,
        connection=teamed,
        subject_type="team",
        subject_id=team.public_id,
        role="editor",
    )
    connection_set_org_role(actor=SYSTEM, connection=shared, role="viewer")
    # The viewer has an editor grant: capped at viewer (viewers never write).
    grant_set(
        actor=SYSTEM,
        connection=granted,
        subject_type="user",
        subject_id=member_id(users["viewer"]),
        role="editor",
    )
    conns = {"granted": granted, "teamed": teamed, "shared": shared, "hidden": hidden}
    return {"project": project, "users": users, "conns": conns, "team": team}


# who → {connection: expected role}; a missing connection is invisible (404).
EXPECTED = {
    "owner": dict.fromkeys(["granted", "teamed", "shared", "hidden"], "owner"),
    "admin": dict.fromkeys(["granted", "teamed", "shared", "hidden"], "owner"),
    "user_grant": {"granted": "owner", "shared": "viewer"},
    "team_grant": {"teamed": "editor", "shared": "viewer"},
    "org_role": {"shared": "viewer"},
    "nothing": {"shared": "viewer"},
    "viewer": {"granted": "viewer", "shared": "viewer"},
    "stranger": {},
}


def viewer_for(world: dict[str, Any], who: str) -> rbac.Viewer:
    user = world["users"][who]
    membership = Membership.objects.filter(
        user=user, organization=world["project"].organization
    ).first()
    return rbac.Viewer(user=user, membership=membership)


@pytest.mark.parametrize("who", list(EXPECTED))
def test_matrix(world: dict[str, Any], who: str) -> None:
    expected = EXPECTED[who]
    conns = world["conns"]
    user = world["users"][who]
    name_of = {c.pk: name for name, c in conns.items()}
    if who != "stranger":
        viewer = viewer_for(world, who)
        rows = list(selectors.visible(viewer, world["project"]))
        assert {name_of[c.pk] for c in rows} == set(expected)
        assert selectors.count_capped(selectors.visible(viewer, world["project"]))[0] == len(
            expected
        )
        # The list's count (counters for those who see all, the scope's two parts for a
        # member) agrees, with and without a filter.
        for filters in (selectors.Filters(), selectors.Filters(status="active")):
            visible = selectors.apply_filters(selectors.visible(viewer, world["project"]), filters)
            assert selectors.list_count(viewer, world["project"], filters, visible) == (
                visible.count(),
                False,
            )
            # The list's first page of two rows, whose query also counts a member's granted
            # part: the same count, and the first two visible rows, newest first.
            first, granted_total = selectors.page_counted(
                viewer, world["project"], filters, limit=2
            )
            assert (granted_total is None) == viewer.sees_all
            assert selectors.list_count(
                viewer, world["project"], filters, visible, granted_total=granted_total
            ) == (visible.count(), False)
            newest = list(visible.order_by("-created_at", "-id")[:2])
            assert [c.pk for c in first.items] == [c.pk for c in newest]
        # The roles from the grants the scope read (no query), and read afresh by a new viewer.
        with CaptureQueriesContext(db_connection) as queries:
            from_scope = rbac.roles(viewer, rows)
        assert {name_of[pk]: r for pk, r in from_scope.items()} == expected
        assert len(queries) == 0
        fresh = rbac.roles(viewer_for(world, who), rows)
        assert {name_of[pk]: r for pk, r in fresh.items()} == expected
    for name, connection in conns.items():
        role = expected.get(name)
        if role is None:
            with pytest.raises(Http404):
                get_connection_for_user(user, "acme-prod", connection.public_id)
            continue
        _, found, got = get_connection_for_user(user, "acme-prod", connection.public_id)
        assert found.pk == connection.pk and got == role
        for need in ConnNeed:
            if rbac.allows(role, need):
                get_connection_for_user(user, "acme-prod", connection.public_id, need=need)
            else:
                with pytest.raises(PermissionDenied):
                    get_connection_for_user(user, "acme-prod", connection.public_id, need=need)


def test_anonymous_sees_nothing(world: dict[str, Any]) -> None:
    with pytest.raises(Http404):
        get_connection_for_user(AnonymousUser(), "acme-prod", world["conns"]["shared"].pk)


def test_org_editor_role_lets_members_write(world: dict[str, Any]) -> None:
    shared = world["conns"]["shared"]
    shared = connection_set_org_role(actor=SYSTEM, connection=shared, role="editor")
    assert rbac.role(viewer_for(world, "nothing"), shared) == "editor"
    assert rbac.role(viewer_for(world, "viewer"), shared) == "viewer"


def test_leaving_the_team_removes_access(world: dict[str, Any]) -> None:
    world["team"].members.remove(world["users"]["team_grant"])
    visible = selectors.visible(viewer_for(world, "team_grant"), world["project"])
    assert world["conns"]["teamed"].pk not in {c.pk for c in visible}


def test_bulk_skips_what_the_viewer_may_not_change(world: dict[str, Any]) -> None:
    viewer = viewer_for(world, "team_grant")
    rows = list(selectors.visible(viewer, world["project"]))  # teamed (editor), shared (viewer)
    done, skipped = connections_bulk(
        actor=SYSTEM, viewer=viewer, connections=rows, action="disable"
    )
    assert (done, skipped) == (1, 1)
    assert Connection.objects.get(pk=world["conns"]["teamed"].pk).status == Status.DISABLED
    assert Connection.objects.get(pk=world["conns"]["shared"].pk).status == Status.ACTIVE
    # delete needs owner: an editor deletes nothing
    assert connections_bulk(actor=SYSTEM, viewer=viewer, connections=rows, action="delete") == (
        0,
        2,
    )


def test_grants_only_for_subjects_of_the_same_organization(world: dict[str, Any]) -> None:
    connection = world["conns"]["hidden"]
    with pytest.raises(ServiceError, match="No member"):
        grant_set(
            actor=SYSTEM,
            connection=connection,
            subject_type="user",
            subject_id=member_id(world["users"]["stranger"]),
            role="viewer",
        )
    other_team = make_team(make_organization(), "Elsewhere")
    with pytest.raises(ServiceError, match="No team"):
        grant_set(
            actor=SYSTEM,
            connection=connection,
            subject_type="team",
            subject_id=other_team.public_id,
            role="viewer",
        )
    with pytest.raises(ServiceError):
        grant_set(
            actor=SYSTEM,
            connection=connection,
            subject_type="user",
            subject_id=member_id(world["users"]["nothing"]),
            role="admin",
        )
    with pytest.raises(ServiceError):
        connection_set_org_role(actor=SYSTEM, connection=connection, role="owner")
    assert ConnectionGrant.objects.filter(connection=connection).count() == 0


def test_grant_change_and_remove(world: dict[str, Any]) -> None:
    connection = world["conns"]["hidden"]
    user = world["users"]["nothing"]
    grant_set(
        actor=SYSTEM,
        connection=connection,
        subject_type="user",
        subject_id=member_id(user),
        role="viewer",
    )
    grant_set(
        actor=SYSTEM,
        connection=connection,
        subject_type="user",
        subject_id=member_id(user),
        role="editor",
    )
    assert ConnectionGrant.objects.get(connection=connection).role == "editor"
    assert rbac.role(viewer_for(world, "nothing"), connection) == "editor"
    grant_remove(
        actor=SYSTEM, connection=connection, subject_type="user", subject_id=member_id(user)
    )
    with pytest.raises(Http404):
        get_connection_for_user(user, "acme-prod", connection.public_id)
    with pytest.raises(Http404):
        grant_remove(
            actor=SYSTEM, connection=connection, subject_type="user", subject_id=member_id(user)
        )


def test_another_projects_connection_is_404_even_for_the_owner(world: dict[str, Any]) -> None:
    elsewhere = make_connection(make_profile(make_project(world["project"].organization)))
    with pytest.raises(Http404):
        get_connection_for_user(world["users"]["owner"], "acme-prod", elsewhere.public_id)


@pytest.mark.postgres
def test_a_grants_copies_follow_its_connection_whatever_changes_it() -> None:
    """A grant copies its connection's project, creation time and organization-level role
    (the member's list orders and counts the granted part from them): filled when the grant
    is made, and on PostgreSQL kept equal by the foreign key (ON UPDATE CASCADE) when the
    connection changes, even by a bulk update; a copy that disagrees is refused."""
    from datetime import timedelta

    from django.db import IntegrityError, transaction

    organization = make_organization()
    project = make_project(organization)
    profile = make_profile(project)
    row = make_connection(profile, "u1")
    user = make_member(organization)
    grant = ConnectionGrant.objects.create(
        connection=row, subject_type="user", user=user, role="viewer"
    )
    copies = ("project_id", "connection_created_at", "connection_org_role")

    def copied() -> tuple[Any, ...]:
        return ConnectionGrant.objects.values_list(*copies).get(pk=grant.pk)

    assert copied() == (project.pk, row.created_at, "")
    viewer = rbac.Viewer(user, Membership.objects.get(user=user, organization=organization))
    page, granted_total = selectors.page_counted(
        viewer, project, selectors.Filters(), limit=5, columns=("pk", "created_at")
    )
    assert [r.pk for r in page.items] == [row.pk] and granted_total == 1
    moved = row.created_at - timedelta(days=3)
    Connection.objects.filter(pk=row.pk).update(created_at=moved, org_role="editor")
    assert copied() == (project.pk, moved, "editor")
    with pytest.raises(IntegrityError), transaction.atomic():
        ConnectionGrant.objects.filter(pk=grant.pk).update(connection_org_role="")
        db_connection.check_constraints()
    # The member's first page, read from those copies, agrees with the scope read afresh.
    viewer = rbac.Viewer(user, viewer.membership)
    page, granted_total = selectors.page_counted(
        viewer, project, selectors.Filters(), limit=5, columns=("pk", "created_at")
    )
    scoped = rbac.scope(
        rbac.Viewer(user, viewer.membership), Connection.objects.filter(project=project)
    )
    assert [r.pk for r in page.items] == [c.pk for c in scoped.order_by("-created_at", "-id")]
    assert granted_total == 0  # now open to the organization: counted in that part
