"""Rate limits for unauthenticated POSTs (password reset, hosted connect pages) and for wrong
API keys (per client address), counted in the shared cache with django-ratelimit.

The limit fails open: when the cache cannot be reached the request goes through and a warning
is logged, so a cache outage never turns a form into a 500 (login lockouts, which must hold
through an outage, are counted in the database by django-axes instead).
"""

from __future__ import annotations

import logging

from django.http import HttpRequest
from django_ratelimit.core import is_ratelimited

logger = logging.getLogger(__name__)


def client_ip(request: HttpRequest) -> str:
    # The address the server saw (behind a proxy, the proxy sets REMOTE_ADDR via its own
    # middleware or gunicorn's forwarded-allow-ips; the header is never trusted here).
    return request.META.get("REMOTE_ADDR") or "unknown"


def over_limit(
    request: HttpRequest, *, group: str, key: str, rate: str, increment: bool = True
) -> bool:
    """Count this request against ``rate`` (e.g. ``"5/15m"``) for ``key`` in ``group``; True
    when it is over the limit. ``increment=False`` only looks (is ``key`` over the limit
    already?), for limits that count failures. Never raises on a cache failure."""
    try:
        return is_ratelimited(
            request, group=group, key=lambda _group, _request: key, rate=rate, increment=increment
        )
    except Exception:  # the cache is down: let the request through, loudly
        logger.warning("Rate limit %s not checked: the cache is unavailable", group)
        return False


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def retry_after(rate: str) -> int:
    """Seconds a client should wait after hitting ``rate``: its whole window ("5/15m" → 900,
    "10/m" → 60), the same notation django-ratelimit counts in."""
    period = rate.partition("/")[2] or "s"
    digits = period[:-1] or "1"
    return int(digits) * _UNITS.get(period[-1], 1)
