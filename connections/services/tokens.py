"""OAuth 2 token refresh (oauthlib builds and reads the token request, ``core.outbound``
sends it within OAUTH_TOKEN_TIMEOUT of wall clock), under a row lock.

Many concurrent callers holding the same (expired) token → one call to the token endpoint:
each caller remembers the encrypted token set it saw, waits for the row lock, and returns
the stored set when another caller has replaced it meanwhile. A response without a new
refresh token keeps the old one. ``invalid_grant`` marks the connection ``needs_reauth``
(no retry loop: nothing is refreshed again until the end user re-authenticates); a failing or
silent token endpoint raises UpstreamError (502), keeps the tokens and counts a failure in a
row (the scheduler's backoff, connections.services.backoff). A disabled connection is never
refreshed. Tokens are never logged and never appear in an error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone
from oauthlib.oauth2 import InvalidGrantError, OAuth2Error, WebApplicationClient

from core.outbound import (
    DestinationRefused,
    OutboundResponse,
    ResponseTooLarge,
    check_destination,
    guarded_request,
)
from projects.crypto import decrypt_json
from projects.services import Actor, ConflictError, ServiceError, audit_record

from .. import counters
from ..models import Connection, Health, Status
from . import backoff
from .announce import announce, announce_status
from .connections import tokens_blob

logger = logging.getLogger(__name__)
EXPIRY_MARGIN_SECONDS = 60
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class UpstreamError(ServiceError):
    """The provider's token endpoint failed, timed out or answered nonsense."""

    status = 502
    code = "upstream_error"


@dataclass(frozen=True)
class RefreshResult:
    refreshed: bool
    connection: Connection
    detail: str


def is_expired(tokens: dict[str, Any], margin: int = EXPIRY_MARGIN_SECONDS) -> bool:
    expires_at = tokens.get("expires_at")
    return isinstance(expires_at, int | float) and expires_at <= time.time() + margin


def check_token_url(token_url: str) -> None:
    try:
        check_destination(token_url)
    except DestinationRefused as exc:
        raise UpstreamError(exc.message) from exc
    parts = urlsplit(token_url)
    if parts.scheme == "https":
        return
    if (
        parts.scheme == "http"
        and parts.hostname in LOOPBACK
        and getattr(settings, "OAUTH_ALLOW_HTTP_LOOPBACK", False)
    ):
        return
    raise UpstreamError("The connector's token URL must use https.")


TOKEN_MAX_BYTES = 64 * 1024  # a token answer is a few hundred bytes


def token_post(token_url: str, client_id: str, client_secret: str, body: str) -> OutboundResponse:
    """A token request (``body`` from oauthlib) with HTTP basic client authentication, as
    requests-oauthlib sends it: one guarded call, no redirect followed (a redirect could carry
    the code, the verifier or the refresh token elsewhere)."""
    return guarded_request(
        "POST",
        token_url,
        max_bytes=TOKEN_MAX_BYTES,
        headers={
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        data=body,
        auth=(client_id, client_secret),
        timeout=settings.OAUTH_TOKEN_TIMEOUT,
    )


def token_answer(client: WebApplicationClient, response: OutboundResponse) -> dict[str, Any]:
    """The token set of a token endpoint's answer; oauthlib raises OAuth2Error (e.g.
    InvalidGrantError) for an error answer."""
    return dict(client.parse_request_body_response(response.body.decode("utf-8", "replace")))


def _token_call(
    token_url: str, client_id: str, client_secret: str, refresh_token: str
) -> dict[str, Any]:
    client = WebApplicationClient(client_id)
    body = client.prepare_refresh_body(refresh_token=refresh_token)
    response = token_post(token_url, client_id, client_secret, body)
    if response.status >= 500:
        raise UpstreamError(
            f"The provider's token endpoint answered HTTP {response.status}; "
            "the tokens were kept. Try again later."
        )
    return token_answer(client, response)


def merge_tokens(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The token set to store from a token response (``old`` fills what it leaves out)."""
    merged = {
        "access_token": new["access_token"],
        "token_type": new.get("token_type") or old.get("token_type") or "Bearer",
        "refresh_token": new.get("refresh_token") or old.get("refresh_token"),
        "scope": new.get("scope") or old.get("scope"),
    }
    if isinstance(new.get("expires_at"), int | float):
        merged["expires_at"] = float(new["expires_at"])
    elif isinstance(new.get("expires_in"), int | float):
        merged["expires_at"] = time.time() + float(new["expires_in"])
    return {k: v for k, v in merged.items() if v is not None}


_local_locks: dict[int, threading.Lock] = {}
_local_locks_guard = threading.Lock()


@contextmanager
def refresh_lock(connection_id: int) -> Iterator[None]:
    """Serialize refreshes of one connection. PostgreSQL: a transaction holding the row lock
    (``SELECT ... FOR UPDATE``) across the token call, so every app server waits for it.
    SQLite (one process, development and tests) has no row locks and its write lock would
    stall a token endpoint served by the same database (the sandbox): a per-connection
    thread lock instead."""
    if db_connection.features.has_select_for_update:
        with transaction.atomic():
            list(
                Connection.objects.select_for_update()
                .filter(pk=connection_id)
                .values_list("pk", flat=True)
            )
            yield
        return
    with _local_locks_guard:
        lock = _local_locks.setdefault(connection_id, threading.Lock())
    with lock:
        yield


def connection_refresh_tokens(
    *, actor: Actor, connection: Connection, force: bool = True
) -> RefreshResult:
    """Refresh the connection's OAuth tokens (``force=False``: only when expired). A refresh
    refused for good (invalid_grant) or failed for now (the provider down, slow) is announced
    as ``connection.refresh_failed``; the second after the lock's transaction rolled back,
    so that the error raised to the caller does not take the event with it."""
    try:
        return _refresh_tokens(actor=actor, connection=connection, force=force)
    except UpstreamError:
        _failed_for_now(connection.pk)
        raise


@transaction.atomic
def _failed_for_now(connection_id: int) -> None:
    """One more failure in a row: the next attempt waits a backoff (connections.services.
    backoff); ``connection.refresh_failed`` is announced when the connection starts failing,
    not on every attempt."""
    row = (
        Connection.objects.select_for_update(of=("self",))
        .select_related("project", "profile", "connector")
        .get(pk=connection_id)
    )
    row.refresh_failures += 1
    row.refresh_retry_at = backoff.retry_at(row.refresh_failures, timezone.now())
    row.save(update_fields=["refresh_failures", "refresh_retry_at"])
    if row.refresh_failures == 1:
        announce(
            row,
            "refresh_failed",
            reason="provider_unavailable",
            retryable=True,
            next_attempt_at=row.refresh_retry_at.isoformat(),
        )


def _refresh_tokens(*, actor: Actor, connection: Connection, force: bool) -> RefreshResult:
    seen = connection.oauth_tokens
    with refresh_lock(connection.pk):
        row = Connection.objects.select_related(
            "project__organization", "profile", "resolved_version"
        ).get(pk=connection.pk)
        if row.status == Status.DISABLED:
            raise ConflictError("This connection is disabled: its tokens are not refreshed.")
        if not row.oauth_tokens:
            raise ServiceError("This connection has no OAuth tokens to refresh.")
        if row.status == Status.NEEDS_REAUTH:
            # The provider refused these credentials: nothing is tried again until the end
            # user re-authenticates (or an admin re-enables the connection).
            return RefreshResult(
                False,
                row,
                "This connection needs re-authentication: its tokens are not refreshed until "
                "the end user reconnects.",
            )
        if row.oauth_tokens != seen:
            return RefreshResult(False, row, "The tokens were refreshed a moment ago.")
        tokens = decrypt_json(row.oauth_tokens)
        if not force and not is_expired(tokens):
            return RefreshResult(False, row, "The access token is still valid.")
        if not tokens.get("refresh_token"):
            raise ServiceError(
                "There is no refresh token; the end user must reconnect this account."
            )
        version = row.resolved_version
        token_url = str((version.authentication if version else {}).get("tokenUrl") or "")
        if not token_url:
            raise ServiceError("The connector's definition has no tokenUrl.")
        check_token_url(token_url)
        client_id = str(row.profile.setup_values.get("client_id") or "")
        client_secret = str(decrypt_json(row.profile.setup_secrets).get("client_secret") or "")
        try:
            new = _token_call(token_url, client_id, client_secret, str(tokens["refresh_token"]))
        except InvalidGrantError:
            before = {"status": row.status}
            counted = counters.key_of(row)
            row.status = Status.NEEDS_REAUTH
            row.health = Health.NEEDS_REAUTH
            row.health_error = (
                "The provider refused the refresh token (invalid_grant); "
                "the end user must reconnect."
            )
            row.refresh_failures, row.refresh_retry_at = 0, None
            with transaction.atomic():
                row.save(
                    update_fields=[
                        "status",
                        "health",
                        "health_error",
                        "refresh_failures",
                        "refresh_retry_at",
                        "updated_at",
                    ]
                )
                counters.changed(counted, row)
                audit_record(
                    actor=actor,
                    organization=row.project.organization,
                    project=row.project,
                    action="connection.needs_reauth",
                    target=row,
                    before=before,
                    after={"status": row.status, "reason": "invalid_grant"},
                )
                announce(row, "refresh_failed", reason="invalid_grant", retryable=False)
                announce_status(row, before["status"])
            logger.info("token refresh of connection %s: invalid_grant", row.pk)
            return RefreshResult(False, row, row.health_error)
        except UpstreamError:
            raise
        except requests.Timeout as exc:
            raise UpstreamError(
                "The provider's token endpoint did not answer in time; the tokens were kept."
            ) from exc
        except (
            requests.RequestException,
            OAuth2Error,
            DestinationRefused,
            ResponseTooLarge,
            ValueError,
            KeyError,
        ) as exc:
            logger.info("token refresh of connection %s failed: %s", row.pk, type(exc).__name__)
            raise UpstreamError(
                f"The provider's token endpoint failed ({type(exc).__name__}); "
                "the tokens were kept."
            ) from exc
        merged = merge_tokens(tokens, new)
        row.oauth_tokens, row.token_expires_at = tokens_blob(merged)
        row.tokens_refreshed_at = timezone.now()
        row.refresh_failures, row.refresh_retry_at = 0, None
        with transaction.atomic():
            row.save(
                update_fields=[
                    "oauth_tokens",
                    "token_expires_at",
                    "tokens_refreshed_at",
                    "refresh_failures",
                    "refresh_retry_at",
                    "updated_at",
                ]
            )
            audit_record(
                actor=actor,
                organization=row.project.organization,
                project=row.project,
                action="connection.tokens_refreshed",
                target=row,
                after={
                    "new_refresh_token": merged.get("refresh_token") != tokens.get("refresh_token")
                },
            )
        logger.info("token refresh of connection %s: ok", row.pk)
        return RefreshResult(True, row, "The tokens were refreshed.")
