"""The connection page's baked reads (core.baked; the tests compare every baked call with the
ORM's compilation): its row under each viewer's scope, its timeline, newest re-authentication
link, open-migration check and link-panel profiles give what the querysets give."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection as db
from django.utils import timezone

from connections import rbac, selectors
from connections.models import (
    Connection,
    ConnectionGrant,
    ConnectSession,
    HealthCheck,
    SubjectType,
)
from core import baked
from dashboard.connections.timeline import connection_timeline
from profiles.models import ConnectorProfile
from profiles.services import profile_create
from projects.models import AuditEntry, Membership, Role
from projects.services import Actor
from rollouts import selectors as rollout_selectors
from rollouts.services import migration_create
from runtime.models import RequestLog, RequestStatus
from tests.conftest import Tenancy
from tests.factories import make_connection, make_member, make_profile, make_project, make_team

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
POSTGRES = db.vendor == "postgresql"


@pytest.fixture(autouse=True)
def _no_shapes() -> Iterator[None]:
    baked.forget()
    yield
    baked.forget()


def _baked(*keys: Any) -> None:
    """On PostgreSQL every one of these shapes was baked, not left to the ORM."""
    if POSTGRES:
        assert all(baked._shapes.get(key) is not None for key in keys), baked._shapes


@pytest.fixture
def history() -> dict[str, Any]:
    project = make_project()
    old = make_profile(project, "acme_crm", "v1", pin="1.x.x")
    new = profile_create(actor=SYSTEM, project=project, connector_key="acme_crm", name="v1b")
    make_profile(project, "other_crm", "other")
    a, b = make_connection(old, "alice"), make_connection(old, "bob")
    now = timezone.now()
    for n, connection in enumerate([a, b, a, a, b]):
        at = now - timedelta(minutes=n)
        HealthCheck.objects.create(connection=connection, checked_at=at, status="healthy")
        entry = AuditEntry.objects.create(
            project=project,
            target_type="connection",
            target_id=str(connection.pk),
            action="connection.renamed",
            before={"name": f"n{n}"},
            after={"name": f"n{n + 1}"},
        )
        AuditEntry.objects.filter(pk=entry.pk).update(created_at=at - timedelta(seconds=10))
        RequestLog.objects.create(
            connection=connection,
            action_id="list",
            status=RequestStatus.ERROR if n % 2 else RequestStatus.OK,
            http_status=502,
            duration_ms=5,
            created_at=at - timedelta(seconds=20),
        )
    ConnectSession.objects.create(
        project=project,
        profile=new,
        token_hash="a" * 64,
        origin_owner_id=a.origin_owner_id,
        expires_at=now + timedelta(days=1),
        account=a,
    )
    migration_create(
        actor=SYSTEM, project=project, from_profile=old, to_profile=new, title="Move to v1b"
    )
    return {"project": project, "old": old, "new": new, "a": a, "b": b, "now": now}


def test_the_timeline_pages_through_baked_reads(history: dict[str, Any]) -> None:
    a, b = history["a"], history["b"]
    items, older = connection_timeline(a, limit=4)
    assert len(items) == 4 and older == items[-1].at
    rest, none = connection_timeline(a, before=older, limit=25)
    assert none is None and all(i.at < older for i in rest)
    shown = items + rest
    kinds = sorted(i.kind for i in shown)
    assert kinds.count("health-healthy") == 3 and kinds.count("audit") == 3 + 1  # Connected
    assert kinds.count("request-error") == 1  # b's and the OK ones are not a's errors
    assert len(shown) == 8 and len({i.at for i in shown}) == 8
    assert all(i.at.tzinfo is not None for i in shown)
    assert any(i.detail == "name: n0 → name: n1" for i in shown)  # JSON decoded
    assert len(connection_timeline(b)[0]) == 2 + 2 + 1 + 1
    _baked(
        ("timeline.checks", "newest", 5),
        ("timeline.audit", "newest", 5),
        ("timeline.request_errors", "newest", 5),
        ("timeline.checks", "paged", 26),
        ("timeline.audit", "paged", 26),
        ("timeline.request_errors", "paged", 26),
    )


def test_the_panels_reads(history: dict[str, Any]) -> None:
    project, a, b = history["project"], history["a"], history["b"]
    reauth = selectors.latest_reauth_session(a)
    assert reauth is not None and reauth.state == "unused"
    assert selectors.latest_reauth_session(b) is None
    found = rollout_selectors.migration_for_connection(a)
    assert found is not None and found[0] == "pending"
    assert (
        rollout_selectors.migration_for_connection(make_connection(history["new"], "carol")) is None
    )
    choices = selectors.connector_profiles(project, a.connector_id)
    assert choices == [
        (p.public_id, p.name, p.is_default)
        for p in ConnectorProfile.objects.filter(
            project=project, connector_id=a.connector_id
        ).order_by("-is_default", "name", "pk")
    ]
    assert {p.name for p in choices} == {"v1", "v1b"}
    assert selectors.connector_profiles(make_project(), a.connector_id) == []
    _baked("reauth.newest", "migration.open_from", "link_profiles")


def _fields(connection: Connection | None) -> Any:
    if connection is None:
        return None
    return [
        {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}
        for obj in (connection, connection.profile, connection.connector)
    ]


@pytest.mark.parametrize("who", ["owner", "admin", "member", "viewer", "granted", "teamed"])
def test_the_page_row_is_the_scoped_querysets_row(tenancy: Tenancy, who: str) -> None:
    project = tenancy.project
    profile = make_profile(project)
    granted, open_to_all, closed = (make_connection(profile) for _ in range(3))
    Connection.objects.filter(pk=open_to_all.pk).update(org_role="viewer")
    other = make_connection(make_profile(tenancy.other_project))
    users = dict(tenancy.users)
    users["granted"] = make_member(tenancy.organization, Role.MEMBER, username="granted")
    users["teamed"] = make_member(tenancy.organization, Role.MEMBER, username="teamed")
    team = make_team(tenancy.organization, "Support", users["teamed"])
    ConnectionGrant.objects.create(
        connection=granted, subject_type=SubjectType.USER, user=users["granted"], role="editor"
    )
    ConnectionGrant.objects.create(
        connection=granted, subject_type=SubjectType.TEAM, team=team, role="viewer"
    )
    user = users[who]
    membership = Membership.objects.get(organization=tenancy.organization, user=user)
    seen = set()
    for connection in (granted, open_to_all, closed, other):
        viewer = rbac.Viewer(user=user, membership=membership)
        expected = (
            rbac.scope(viewer, selectors.page_rows_of(project))
            .filter(public_id=connection.public_id)
            .first()
        )
        found = selectors.page_row(viewer, project, connection.public_id)
        assert _fields(found) == _fields(expected)
        if found is not None:
            assert found._state.db == "default" and not found._state.adding
            assert found.profile.pk == found.profile_id and found.connector.key
            seen.add(connection)
    wanted = {"owner": 3, "admin": 3, "member": 1, "viewer": 1, "granted": 2, "teamed": 2}
    assert len(seen) == wanted[who] and other not in seen
    if who in ("owner", "admin"):
        _baked(("page_row", "all"))
    elif who in ("granted", "teamed"):
        _baked(("page_row", "granted"))
