"""Backoff of the scheduler's work on one connection (token refresh, health check).

A failure that may pass (the provider down, slow, answering 5xx) counts one more failure in a
row and sets when the connection may next be tried: RETRY_BACKOFF_BASE_SECONDS doubled per
failure in a row, capped at RETRY_BACKOFF_MAX_SECONDS, with "equal jitter" (a random point in
the second half of that delay, so that connections that failed together spread out and the
number of attempts stays bounded). A success resets the count. The scheduler's queries
(connections.services.scheduled) select only connections whose time has come, so a provider
that refuses for a day costs each connection about a dozen attempts, not one a minute.

The count and the time live on the connection (``refresh_failures``/``refresh_retry_at``,
``health_failures``/``health_retry_at``): every worker and every restart sees them.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.conf import settings


def retry_delay(failures: int, *, rng: random.Random | None = None) -> timedelta:
    """The wait after ``failures`` failures in a row (1 for the first)."""
    base = max(1, settings.RETRY_BACKOFF_BASE_SECONDS)
    cap = max(base, settings.RETRY_BACKOFF_MAX_SECONDS)
    # 2**n grows past any cap quickly: bound the exponent so the number stays small.
    ceiling = min(cap, base * 2 ** min(max(failures, 1) - 1, 32))
    half = ceiling / 2
    return timedelta(seconds=half + (rng or random).uniform(0, half))


def retry_at(failures: int, now: datetime) -> datetime:
    return now + retry_delay(failures)
