"""Reads of the request log: a connection's requests (newest first, keyset pages), a
version's counts over 24 h and 7 d, a connection's last request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from connections import rbac
from connections.models import Connection
from connections.selectors import connections_of
from connectors.models import ConnectorVersion
from core.pager import KeysetOrder, Page, keyset_page
from projects.permissions import ProjectAccess

from .models import RequestLog, RequestStatus

MAX_LIMIT = 200
NEWEST_FIRST = KeysetOrder("created_at")


def requests_of(
    connection: Connection, *, action_id: str = "", status: str = ""
) -> QuerySet[RequestLog]:
    rows = RequestLog.objects.filter(connection=connection)
    if action_id:
        rows = rows.filter(action_id=action_id)
    if status:
        rows = rows.filter(status=status)
    return rows


def requests_page(
    connection: Connection,
    *,
    limit: int = 50,
    after: str = "",
    before: str = "",
    action_id: str = "",
    status: str = "",
) -> Page[RequestLog]:
    """Newest first; raises core.pager.InvalidCursor for a cursor it did not make."""
    return keyset_page(
        requests_of(connection, action_id=action_id, status=status),
        NEWEST_FIRST,
        after=after,
        before=before,
        limit=limit,
    )


@dataclass(frozen=True)
class VersionFigures:
    last_24h: int
    errors_24h: int
    last_7d: int
    errors_7d: int

    @property
    def error_rate_24h(self) -> float | None:
        return self.errors_24h / self.last_24h if self.last_24h else None

    @property
    def error_rate_7d(self) -> float | None:
        return self.errors_7d / self.last_7d if self.last_7d else None


def version_figures(version: ConnectorVersion) -> VersionFigures:
    """Requests this version served (one aggregate over the (version, created_at) index)."""
    now = timezone.now()
    day = now - timedelta(hours=24)
    error = Q(status=RequestStatus.ERROR)
    counts = RequestLog.objects.filter(version=version, created_at__gte=now - timedelta(days=7))
    figures = counts.aggregate(
        last_7d=Count("id"),
        errors_7d=Count("id", filter=error),
        last_24h=Count("id", filter=Q(created_at__gte=day)),
        errors_24h=Count("id", filter=Q(created_at__gte=day) & error),
    )
    return VersionFigures(**figures)


def try_it_connections(
    user: Any, access: ProjectAccess, connector_id: int, *, limit: int = 200
) -> list[Connection]:
    """Connections of the connector the user may edit (Try it runs with their credentials)."""
    viewer = rbac.Viewer(user=user, membership=access.membership)
    rows = list(
        rbac.scope(viewer, connections_of(access.project)).filter(connector_id=connector_id)[:limit]
    )
    roles = rbac.roles(viewer, rows)
    return [c for c in rows if rbac.allows(roles[c.pk], rbac.ConnNeed.WRITE)]


def action_ids_of(connection: Connection, *, limit: int = 100) -> list[str]:
    """The actions this connection's requests named (the Requests tab's filter)."""
    return list(
        RequestLog.objects.filter(connection=connection)
        .order_by("action_id")
        .values_list("action_id", flat=True)
        .distinct()[:limit]
    )
