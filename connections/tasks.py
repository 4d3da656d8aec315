"""Background and scheduled work on connections (Django's tasks framework; django-crontask:
`manage.py crontask` enqueues the scheduled ones, the task worker runs them). Intervals come
from settings, read at start-up."""

from __future__ import annotations

import logging
from typing import Any

from apscheduler.triggers.interval import IntervalTrigger
from crontask import cron
from django.conf import settings
from django.tasks import task

from projects.services import Actor

from . import selectors
from .models import Connection
from .services import bulk_runs
from .services.health import connection_check_health
from .services.scheduled import check_due_health, refresh_due_tokens

logger = logging.getLogger(__name__)


@cron(IntervalTrigger(seconds=settings.SCHEDULE_TOKEN_REFRESH_SECONDS, jitter=5))
@task()
def refresh_tokens() -> dict[str, int]:
    """Refresh OAuth tokens ahead of expiry, and at least daily (TOKEN_REFRESH_* settings)."""
    return refresh_due_tokens().counts


@task()
def check_health() -> dict[str, int]:
    """Health-check the next batch of connections whose last check is the oldest."""
    return check_due_health().counts


if settings.SCHEDULE_HEALTH_CHECK_SECONDS > 0:  # 0: no scheduled health checks (the demo)
    cron(IntervalTrigger(seconds=settings.SCHEDULE_HEALTH_CHECK_SECONDS, jitter=15))(check_health)


@task()
def check_health_after_connect(connection_id: int) -> str:
    """Check a connection right after its end user connected it (an OAuth connect would
    otherwise stay "Not checked" until someone clicks Check now)."""
    connection = Connection.objects.filter(pk=connection_id).first()
    if connection is None:
        return "gone"
    return str(connection_check_health(actor=Actor.system(), connection=connection).status)


@task()
def run_bulk_action(run_id: int, filters: dict[str, Any]) -> str:
    """Run a "select all N matching" bulk action (connections.services.bulk_runs) on the
    connections ``filters`` (``selectors.Filters.to_json``) match."""
    return bulk_runs.bulk_run_execute(
        run_id=run_id, filters=selectors.Filters.from_json(filters)
    ).summary
