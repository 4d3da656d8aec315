"""Project API keys, as ``Authorization: Bearer <key>`` or Basic with the key as user name.

Neither class logs the header (ninja's own classes log it when DEBUG is on). Wrong keys are
counted per client address (interfaces_common.api_keys, shared with /mcp): past the limit every
key attempt from that address answers 429 with ``Retry-After`` until the window ends, as the
login page locks out an address that guesses passwords.
"""

from __future__ import annotations

import base64
import binascii

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja.errors import Throttled
from ninja.security import HttpBasicAuth, HttpBearer

from interfaces_common.api_keys import KeyThrottled, api_key_login
from projects.models import ApiKey


def _header(request: HttpRequest) -> tuple[str, str]:
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    return scheme.lower(), value.strip()


class ApiKeyBearer(HttpBearer):
    def __call__(self, request: HttpRequest) -> ApiKey | None:
        scheme, value = _header(request)
        if scheme != "bearer" or not value:
            return None
        return self.authenticate(request, value)

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        return _login(request, token)


class ApiKeyBasic(HttpBasicAuth):
    def __call__(self, request: HttpRequest) -> ApiKey | None:
        scheme, value = _header(request)
        if scheme != "basic" or not value:
            return None
        try:
            username, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return self.authenticate(request, username, password)

    def authenticate(self, request: HttpRequest, username: str, password: str) -> ApiKey | None:
        return _login(request, username)


# What a read-scoped key may do (docs/api.md "Authentication"): anything else is 403 forbidden.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _login(request: HttpRequest, raw_key: str) -> ApiKey | None:
    try:
        api_key = api_key_login(request, raw_key)
    except KeyThrottled as throttled:
        raise Throttled(wait=throttled.wait) from None
    if api_key is None:
        return None
    if not api_key.can_use_api:
        raise PermissionDenied(
            f"API key {api_key.prefix} is for AI agents (scope agent): it may only use /mcp."
        )
    if not api_key.can_write and request.method not in READ_METHODS:
        # Checked here, once for every operation, so a new write endpoint is covered too.
        raise PermissionDenied(
            f"API key {api_key.prefix} is read-only (scope read): it may only use GET."
        )
    request.api_key = api_key  # type: ignore[attr-defined]
    return api_key


def require_full_scope(request: HttpRequest, what: str) -> None:
    """403 for a read-scoped key asking a GET for something that changes state (a token
    refresh): a read key reads, it never triggers a refresh, a check or a write."""
    api_key: ApiKey = request.auth  # type: ignore[attr-defined]
    if not api_key.can_write:
        raise PermissionDenied(
            f"API key {api_key.prefix} is read-only (scope read): {what} needs a full key."
        )


def is_read_scoped(request: HttpRequest) -> bool:
    api_key: ApiKey = request.auth  # type: ignore[attr-defined]
    return not api_key.can_write


def api_key_auth() -> list[HttpBearer | HttpBasicAuth]:
    return [ApiKeyBearer(), ApiKeyBasic()]
