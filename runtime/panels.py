"""What the runtime adds to lower apps' pages (registered in ``RuntimeConfig.ready()``):
the version page's Try it forms and request figures, the connection page's Requests tab."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse

from connections.models import Connection
from connections.selectors import TimelineItem
from connectors.models import ConnectorVersion
from core import baked
from projects.http import HtmxHttpRequest
from projects.permissions import ProjectAccess

from . import selectors
from .models import RequestLog, RequestStatus


def version_panels(
    *, request: HtmxHttpRequest, access: ProjectAccess, version: ConnectorVersion, **_: Any
) -> dict[str, Any]:
    """Requests this version served (24 h / 7 d, error rate), and Try it when the user may
    edit a connection of this connector."""
    context: dict[str, Any] = {"version_requests": selectors.version_figures(version)}
    if version.is_draft:
        return context
    connections = selectors.try_it_connections(request.user, access, version.connector_id)
    if connections:
        context["try_it"] = {"connections": connections}
    return context


def connection_panels(*, access: ProjectAccess, connection: Connection, **_: Any) -> dict[str, Any]:
    return {
        "requests_url": reverse(
            "connection_requests", args=[access.project.slug, connection.public_id]
        )
    }


def _errors(
    connection_id: int, *before: datetime, limit: int
) -> QuerySet[RequestLog, tuple[Any, ...]]:
    rows = RequestLog.objects.filter(connection_id=connection_id, status=RequestStatus.ERROR)
    if before:
        rows = rows.filter(created_at__lt=before[0])
    return rows.order_by(
        "-created_at", "-id"
    ).values_list(  # tuples: no model instances
        "created_at", "action_id", "error_code", "http_status", "provider_status", "version_number"
    )[:limit]


def connection_timeline(
    *, connection: Connection, before: datetime | None, limit: int, **_: Any
) -> dict[str, Any]:
    """The connection's failed requests in its timeline (every request is on the Requests
    tab): the action, the error, the provider's status and the version that served it. Baked
    per shape (core.baked: ~0.7 ms of CPU less a connection page)."""
    paged = (before,) if before is not None else ()
    key = ("timeline.request_errors", "paged" if paged else "newest", limit)
    shown = baked.rows(key, partial(_errors, limit=limit), connection.pk, *paged)
    items = []
    for created_at, action_id, error_code, http_status, provider_status, number in shown:
        provider = f" · provider {provider_status}" if provider_status else ""
        version = f" · {number}" if number else ""
        items.append(
            TimelineItem(
                created_at,
                "request-error",
                f"Request failed: {action_id}",
                f"{error_code or 'error'} ({http_status}){provider}{version}",
            )
        )
    return {"timeline_items": items}
