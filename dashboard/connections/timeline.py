"""The connection page's timeline: the connections app's health checks and audit entries with
the runtime's failed requests, assembled here (the page is the one place that may import
both)."""

from __future__ import annotations

from datetime import datetime

from connections import selectors
from connections.models import Connection
from connections.selectors import TimelineItem
from runtime.timeline import request_errors


def connection_timeline(
    connection: Connection,
    *,
    before: datetime | None = None,
    limit: int = selectors.TIMELINE_PAGE,
) -> tuple[list[TimelineItem], datetime | None]:
    """One page of the timeline, newest first, and the cursor of the next (three queries)."""
    errors = request_errors(connection, before=before, limit=limit + 1)
    return selectors.timeline(connection, before=before, limit=limit, others=errors)
