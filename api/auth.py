"""Project API keys, as ``Authorization: Bearer <key>`` or Basic with the key as user name.

Neither class logs the header (ninja's own classes log it when DEBUG is on).
"""

from __future__ import annotations

import base64
import binascii

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja.security import HttpBasicAuth, HttpBearer

from projects.models import ApiKey
from projects.services import api_key_authenticate


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


# What a read-scoped key may do (API.md "Authentication"): anything else is 403 forbidden.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _login(request: HttpRequest, raw_key: str) -> ApiKey | None:
    api_key = api_key_authenticate(raw_key)
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


def api_key_auth() -> list[HttpBearer | HttpBasicAuth]:
    return [ApiKeyBearer(), ApiKeyBasic()]
