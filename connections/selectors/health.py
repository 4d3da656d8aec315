"""The project overview's health figures: counts by status and health, the needs-reauth
trend, the latest failed checks."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from django.db.models import (
    CharField,
    Count,
)
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone

from projects.models import AuditEntry, Project

from .. import counters, rbac
from ..models import (
    Connection,
    Health,
    Status,
)

# --- The project overview ------------------------------------------------------------------


def counts_by_status_and_health(project: Project, viewer: rbac.Viewer) -> dict[str, dict[str, int]]:
    """The overview's figures among the connections ``viewer`` may see, in one grouped query:
    {"status": {value: n}, "health": {value: n}, "total": {"all": n}}. From the counters for
    those who see every connection (the same cost at any size); over a member's scope (their
    grants and the organization-wide rows, each through its index) otherwise."""
    if viewer.sees_all:
        groups = counters.by_status_and_health(project.pk)
    else:
        rows = rbac.scope(viewer, Connection.objects.filter(project=project))
        groups = list(rows.order_by().values_list("status", "health").annotate(n=Count("pk")))
    status: dict[str, int] = {}
    health: dict[str, int] = {}
    total = 0
    for s, h, n in groups:
        status[s] = status.get(s, 0) + n
        health[h] = health.get(h, 0) + n
        total += n
    return {"status": status, "health": health, "total": {"all": total}}


REAUTH_TREND_DAYS = 14


def needs_reauth_per_day(
    project: Project, viewer: rbac.Viewer, *, days: int = REAUTH_TREND_DAYS
) -> list[tuple[date, int]]:
    """How many connections ``viewer`` may see entered needs_reauth on each of the last
    ``days`` days (UTC, today included; days without any as 0), from the audit log in one
    grouped query: a status change to needs_reauth ("connection.needs_reauth", made by hand,
    by the runtime or by a refused token refresh) or a health check that moved the status
    there ("connection.health_changed"). A connection counts once a day. [] if none."""
    today = timezone.now().astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    entries = AuditEntry.objects.filter(
        project=project,
        target_type=Connection._meta.model_name,
        action__in=["connection.needs_reauth", "connection.health_changed"],
        after__status=Status.NEEDS_REAUTH,
        created_at__gte=datetime.combine(first, time.min, tzinfo=UTC),
    ).exclude(before__status=Status.NEEDS_REAUTH)
    if not viewer.sees_all:
        visible_ids = rbac.scope(viewer, Connection.objects.filter(project=project)).values(
            text_id=Cast("pk", output_field=CharField(max_length=64))
        )
        entries = entries.filter(target_id__in=visible_ids)
    counted = dict(
        entries.annotate(day=TruncDate("created_at", tzinfo=UTC))
        .order_by()
        .values_list("day")
        .annotate(n=Count("target_id", distinct=True))
        .values_list("day", "n")
    )
    if not counted:
        return []
    return [
        (first + timedelta(days=i), counted.get(first + timedelta(days=i), 0)) for i in range(days)
    ]


def recent_failures(project: Project, viewer: rbac.Viewer, *, limit: int = 6) -> list[Connection]:
    """Connections whose last health check failed, most recent first (one query)."""
    rows = rbac.scope(viewer, Connection.objects.filter(project=project))
    return list(
        rows.filter(
            health__in=[Health.UNHEALTHY, Health.NEEDS_REAUTH], health_checked_at__isnull=False
        )
        .select_related("connector")
        .order_by("-health_checked_at", "-id")[:limit]
    )
