"""The project overview: figures by status and health with links to the filtered lists,
open migrations, recent publishes and pin changes, recent failures; constant queries."""

from __future__ import annotations

import re
from datetime import UTC, timedelta

import pytest
from django.core.cache import cache
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from connections.models import Connection, ConnectionGrant, GrantRole, Health, Status, SubjectType
from connections.services.connections import connection_set_status
from connections.services.pins import profile_set_pin
from projects.models import AuditEntry
from projects.services import Actor
from rollouts.services import migration_create
from tests.conftest import Tenancy
from tests.factories import (
    enter_needs_reauth,
    make_connection,
    make_profile,
    publish_version,
    update_connections,
)

pytestmark = pytest.mark.django_db


def _world(tenancy: Tenancy, n: int) -> None:
    old = make_profile(tenancy.project, "acme_crm", "v1", version="1.0.0", pin="1.x.x")
    for i in range(n):
        c = make_connection(old, f"user-{i}")
        if i % 3 == 0:
            update_connections(
                Connection.objects.filter(pk=c.pk),
                status=Status.ERROR,
                health=Health.UNHEALTHY,
                health_checked_at=timezone.now() - timedelta(minutes=i),
                health_error="Could not reach api.acme.example (ConnectTimeout)",
            )


def _get(client: object, url: str) -> tuple[int, str]:
    cache.clear()
    with CaptureQueriesContext(db) as ctx:
        response = client.get(url)  # type: ignore[attr-defined]
    assert response.status_code == 200
    return len(ctx.captured_queries), response.content.decode()


def test_overview_tells_the_truth(tenancy: Tenancy) -> None:
    _world(tenancy, 6)
    project = tenancy.project
    new = make_profile(project, "acme_crm", "v2", version="2.0.0", pin="2.x.x")
    old = new.__class__.objects.get(name="v1")
    migration_create(
        actor=Actor.system(), project=project, from_profile=old, to_profile=new, title="To 2.x"
    )
    profile_set_pin(actor=Actor.system(), profile=old, pin="1.0.0")
    url = reverse("project_home", args=[project.slug])
    _n, html = _get(tenancy.client("admin"), url)
    assert 'data-testid="overview-counts"' in html and "6 connections" in html
    assert f'href="/p/{project.slug}/connections/?status=error"' in html
    assert f'href="/p/{project.slug}/connections/?health=unhealthy"' in html
    counts = html[html.index('data-testid="count-status-error"') :]
    assert "<strong>2</strong>" in counts[:300]
    assert 'data-testid="overview-migrations"' in html and "To 2.x" in html
    assert "0 of 6 moved" in html
    assert 'data-testid="overview-changes"' in html and "profile.pin_changed" in html
    # Which connector's profile: names repeat across connectors (issue 30).
    changes = html[html.index('data-testid="overview-changes"') :]
    assert re.search(r"profile\.pin_changed</code> acme_crm · v1 → 1\.0\.0", changes), changes[:600]
    assert 'data-testid="overview-failures"' in html and "api.acme.example" in html
    # A viewer gets the figures (of what they may see) but not the admins' migration panel.
    _n, viewer = _get(tenancy.client("viewer"), url)
    assert 'data-testid="overview-migrations"' not in viewer and "/migrations/" not in viewer


def test_overview_queries_do_not_grow(tenancy: Tenancy) -> None:
    _world(tenancy, 3)
    url = reverse("project_home", args=[tenancy.project.slug])
    client = tenancy.client("owner")
    _get(client, url)  # the session's first visit writes it
    before, _html = _get(client, url)
    profile = make_profile(tenancy.project, "other_crm", "other", version="1.0.0")
    for i in range(40):
        make_connection(profile, f"more-{i}")
    publish_version(None, "1.1.0", "other_crm")
    after, _html = _get(client, url)
    assert after == before


def test_overview_is_cached_briefly(tenancy: Tenancy) -> None:
    _world(tenancy, 3)
    url = reverse("project_home", args=[tenancy.project.slug])
    client = tenancy.client("owner")
    client.get(url)
    with CaptureQueriesContext(db) as ctx:
        client.get(url)
    assert not any("connections_connection" in q["sql"] for q in ctx.captured_queries)


def test_the_overview_assembles_every_apps_panels_in_their_order(tenancy: Tenancy) -> None:
    """The page calls each app's part (dashboard/overview.py): with data, the connections'
    figures, the open migrations and the recent changes, by their order; no data, no panel."""
    url = reverse("project_home", args=[tenancy.project.slug])
    _n, html = _get(tenancy.client("owner"), url)
    assert "overview-counts" not in html and "overview-migrations" not in html
    _world(tenancy, 3)
    project = tenancy.project
    new = make_profile(project, "acme_crm", "v2", version="2.0.0", pin="2.x.x")
    old = new.__class__.objects.get(name="v1")
    migration_create(
        actor=Actor.system(), project=project, from_profile=old, to_profile=new, title="To 2.x"
    )
    _n, html = _get(tenancy.client("owner"), url)
    counts, migrations = html.index("overview-counts"), html.index("overview-migrations")
    assert counts < migrations < html.index("overview-changes")


def _trend(html: str) -> dict[str, int]:
    panel = html[html.index('data-testid="overview-reauth"') :]
    panel = panel[: panel.index("</svg>")]
    return {d: int(n) for d, n in re.findall(r'data-day="([^"]+)" data-count="(\d+)"', panel)}


def test_overview_needs_reauth_trend(tenancy: Tenancy) -> None:
    profile = make_profile(tenancy.project, "acme_crm", "v1", version="1.0.0")
    c0, c1, c2, c3 = (make_connection(profile, f"user-{i}") for i in range(4))
    url = reverse("project_home", args=[tenancy.project.slug])
    _n, html = _get(tenancy.client("admin"), url)
    assert 'data-testid="overview-counts"' in html
    assert 'data-testid="overview-reauth"' not in html  # nothing entered needs_reauth yet
    enter_needs_reauth(c0)
    enter_needs_reauth(c0)  # twice the same day: one connection
    enter_needs_reauth(c1, via_health=True)
    enter_needs_reauth(c2, days_ago=3)
    enter_needs_reauth(c3, days_ago=20)  # older than the chart
    connection_set_status(actor=Actor.system(), connection=c2, status=Status.NEEDS_REAUTH)
    for before, after in (
        ("needs_reauth", "needs_reauth"),  # a change of health only: it was there already
        ("active", "disabled"),  # not into needs_reauth
    ):
        AuditEntry.objects.create(
            project=tenancy.project,
            action="connection.health_changed",
            target_type="connection",
            target_id=str(c3.pk),
            before={"status": before, "health": "unhealthy"},
            after={"status": after, "health": "needs_reauth"},
        )
    today = timezone.now().astimezone(UTC).date()
    _n, html = _get(tenancy.client("admin"), url)
    trend = _trend(html)
    assert len(trend) == 14 and min(trend) == (today - timedelta(days=13)).isoformat()
    assert trend[today.isoformat()] == 3  # c0, c1 and c2 (set again just now)
    assert trend[(today - timedelta(days=3)).isoformat()] == 1
    assert sum(trend.values()) == 4
    # Every fourth day carries its date, counted back from today (evenly spaced, today's
    # never crowded by another's).
    labels = re.findall(r'class="daily-label"[^>]*>([^<]+)<', html)
    days = [today - timedelta(days=n) for n in (12, 8, 4, 0)]
    assert labels == [f"{d:%b} {d.day}" for d in days]
    assert f'href="/p/{tenancy.project.slug}/connections/?status=needs_reauth"' in html
    # A member counts only the connections shared with them.
    ConnectionGrant.objects.create(
        connection=c2,
        subject_type=SubjectType.USER,
        user=tenancy.users["member"],
        role=GrantRole.VIEWER,
    )
    _n, member = _get(tenancy.client("member"), url)
    shared = _trend(member)
    assert shared[today.isoformat()] == 1 and sum(shared.values()) == 2


def test_overview_needs_reauth_trend_queries_do_not_grow(tenancy: Tenancy) -> None:
    _world(tenancy, 3)
    url = reverse("project_home", args=[tenancy.project.slug])
    profile = make_profile(tenancy.project, "other_crm", "other", version="1.0.0")
    enter_needs_reauth(make_connection(profile, "first"))
    client = tenancy.client("owner")
    _get(client, url)  # the session's first visit writes it
    before, html = _get(client, url)
    assert sum(_trend(html).values()) == 1
    for i in range(12):
        enter_needs_reauth(make_connection(profile, f"more-{i}"), days_ago=i, via_health=i % 2 == 0)
    cache.clear()
    with CaptureQueriesContext(db) as ctx:
        html = client.get(url).content.decode()
    assert sum(_trend(html).values()) == 13
    assert len(ctx.captured_queries) == before
    assert sum("connection.needs_reauth" in q["sql"] for q in ctx.captured_queries) == 1
