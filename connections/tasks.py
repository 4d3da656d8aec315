"""Scheduled work on connections (django-crontask: `manage.py crontask` enqueues these on their
schedule; the task worker runs them). Intervals come from settings, read at start-up."""

from __future__ import annotations

from apscheduler.triggers.interval import IntervalTrigger
from crontask import cron
from django.conf import settings
from django.tasks import task

from .services.scheduled import check_due_health, refresh_due_tokens


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
