"""Periodic work on connections, run by the scheduler's tasks (connections/tasks.py) and
callable by hand: token refresh ahead of expiry, staggered health checks. Both go through the
same services as the pages and the API (connection_refresh_tokens, connections_check_health_bulk).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.metrics import HEALTH_CHECKS, TOKEN_REFRESHES
from projects.services import Actor, ServiceError

from ..models import Connection, Status
from .health import connections_check_health_bulk
from .tokens import connection_refresh_tokens

logger = logging.getLogger(__name__)


@dataclass
class Outcome:
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1


# The statuses the scheduler works on: ``error`` too (a failure that may pass), never
# ``needs_reauth`` (the provider refused the credentials: nothing is tried again until the end
# user re-authenticates) nor ``disabled``.
SCHEDULED = (Status.ACTIVE, Status.ERROR)


def backed_off(field: str, now: datetime) -> Q:
    """Not waiting out a backoff (connections.services.backoff) on ``field``."""
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lte": now})


def tokens_due(now: datetime | None = None) -> QuerySet[Connection]:
    """Active (or erring) OAuth connections not waiting out a backoff whose tokens should be
    refreshed now, soonest first:
    - the access token expires within TOKEN_REFRESH_AHEAD_SECONDS;
    - no expiry was sent (no ``expires_in``): it is assumed to live
      TOKEN_ASSUMED_LIFETIME_SECONDS from the last refresh (or the connection's creation);
    - the tokens were last refreshed more than TOKEN_REFRESH_MAX_AGE_SECONDS ago, for providers
      whose refresh tokens die when unused (at least daily by default)."""
    now = now or timezone.now()
    ahead = timedelta(seconds=settings.TOKEN_REFRESH_AHEAD_SECONDS)
    assumed = timedelta(seconds=settings.TOKEN_ASSUMED_LIFETIME_SECONDS)
    max_age = timedelta(seconds=settings.TOKEN_REFRESH_MAX_AGE_SECONDS)
    return (
        Connection.objects.filter(status__in=SCHEDULED)
        .exclude(oauth_tokens="")
        .filter(backed_off("refresh_retry_at", now))
        .alias(last_refresh=Coalesce("tokens_refreshed_at", "created_at"))
        .filter(
            Q(token_expires_at__lte=now + ahead)
            | Q(token_expires_at__isnull=True, last_refresh__lte=now + ahead - assumed)
            | Q(last_refresh__lte=now - max_age)
        )
        .order_by(Coalesce("token_expires_at", "last_refresh"), "pk")
    )


def _refresh_one(connection: Connection) -> str:
    try:
        result = connection_refresh_tokens(actor=Actor.system(), connection=connection)
    except ServiceError as exc:
        logger.info("scheduled token refresh of connection %s: %s", connection.pk, exc.code)
        return "failed"
    finally:
        close_old_connections()
    if result.refreshed:
        return "refreshed"
    return "needs_reauth" if result.connection.status == Status.NEEDS_REAUTH else "skipped"


def refresh_due_tokens(*, limit: int | None = None) -> Outcome:
    """Refresh up to ``limit`` due connections, at most SCHEDULE_CONCURRENCY at once. One that
    fails for now waits its backoff before it is due again (connection_refresh_tokens counts
    the failure)."""
    limit = limit or settings.SCHEDULE_BATCH_SIZE
    due = list(tokens_due()[:limit])
    outcome = Outcome()
    with ThreadPoolExecutor(max_workers=settings.SCHEDULE_CONCURRENCY) as pool:
        for result in pool.map(_refresh_one, due):
            outcome.add(result)
            TOKEN_REFRESHES.labels(result).inc()
    if due:
        logger.info("scheduled token refresh: %s", outcome.counts)
    return outcome


def health_due(now: datetime | None = None) -> QuerySet[Connection]:
    """Active (or erring) connections not checked for HEALTH_CHECK_INTERVAL_SECONDS, or whose
    backoff after a failed check has run out; the longest waiting first: each run takes the
    next batch, so checks spread over the interval instead of all at once."""
    now = now or timezone.now()
    interval = timedelta(seconds=settings.HEALTH_CHECK_INTERVAL_SECONDS)
    stale = Q(health_checked_at__isnull=True) | Q(health_checked_at__lte=now - interval)
    return (
        Connection.objects.filter(status__in=SCHEDULED)
        .filter(Q(health_retry_at__lte=now) | Q(health_retry_at__isnull=True) & stale)
        .order_by(Coalesce("health_retry_at", "health_checked_at", "created_at"), "pk")
    )


def check_due_health(*, limit: int | None = None) -> Outcome:
    """Check the next batch of due connections (bounded parallelism in the health service);
    status changes are written by that service."""
    rows = list(health_due()[: limit or settings.SCHEDULE_BATCH_SIZE])
    outcome = Outcome()
    if not rows:
        return outcome
    for result in connections_check_health_bulk(actor=Actor.system(), connections=rows).values():
        outcome.add(result.status)
        HEALTH_CHECKS.labels(result.status).inc()
    logger.info("scheduled health checks: %s", outcome.counts)
    return outcome
