"""Authenticating a project API key where it enters an interface (the JSON API's bearer and
basic auth, the MCP endpoint's bearer), in one place: a malformed key is a wrong key (never
sent to the database), and wrong keys are counted per client address (core/throttle.py,
``THROTTLE_API_KEY_RATE``) — past the limit every key attempt from that address is refused
with the seconds to wait, until the window ends."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from core.throttle import client_ip, over_limit, retry_after
from projects.models import ApiKey
from projects.services import api_key_authenticate

THROTTLE_GROUP = "api-key-failures"


class KeyThrottled(Exception):
    def __init__(self, wait: int) -> None:
        super().__init__(f"Too many wrong API keys from this address; retry in {wait} s.")
        self.wait = wait


def _failed_too_often(request: HttpRequest, *, count: bool) -> bool:
    return over_limit(
        request,
        group=THROTTLE_GROUP,
        key=client_ip(request),
        rate=settings.THROTTLE_API_KEY_RATE,
        increment=count,
    )


def api_key_login(request: HttpRequest, raw_key: str) -> ApiKey | None:
    """The active key ``raw_key`` names, None for a wrong one; ``KeyThrottled`` when this
    address has sent too many wrong keys."""
    rate = settings.THROTTLE_API_KEY_RATE
    if _failed_too_often(request, count=False):
        raise KeyThrottled(retry_after(rate))
    # A key is printable ASCII: anything else (a NUL from a Basic header, say) is a wrong key,
    # refused here before it reaches the database (PostgreSQL refuses NUL in text).
    well_formed = raw_key.isascii() and raw_key.isprintable()
    api_key = api_key_authenticate(raw_key) if well_formed else None
    if api_key is None and _failed_too_often(request, count=True):
        raise KeyThrottled(retry_after(rate))
    return api_key
