"""The hosted OAuth 2 connect flow with PKCE.

The authorization URL carries the profile's client id and scopes, the redirect URI from
settings, a random single-use ``state`` (its digest on the session row and in the browser's
session) and a PKCE S256 challenge. The callback needs the state in this browser's session
and consumes it with one conditional UPDATE, so two callbacks with the same state make at
most one connection.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from typing import Any
from urllib.parse import urlsplit

import requests
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from oauthlib.oauth2 import OAuth2Error, WebApplicationClient
from requests_oauthlib import OAuth2Session

from connectors.models import ConnectorVersion
from core.outbound import DestinationRefused, ResponseTooLarge
from core.tasks import enqueue_on_commit
from projects.crypto import decrypt_json, decrypt_text, encrypt_text
from projects.services import ServiceError

from ..models import Connection, ConnectSession
from .connect import (
    BROWSER_STATES,
    SessionUnusable,
    check_usable,
    digest,
    lock_usable,
    redirect_uri,
    save_connection,
    session_for_token,
    session_version,
    sessions_with_profile,
)
from .tokens import UpstreamError, check_token_url, merge_tokens, token_answer, token_post

logger = logging.getLogger(__name__)

# --- OAuth 2 -------------------------------------------------------------------------------


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def oauth_scopes(session: ConnectSession, version: ConnectorVersion) -> list[str]:
    scopes = [str(s) for s in version.authentication.get("scopes") or []]
    extra = str(session.profile.setup_values.get("scopes") or "").split()
    return list(dict.fromkeys([*scopes, *extra]))


def oauth_start(*, token: str, browser: SessionBase) -> str:
    """A new single-use state + PKCE verifier for this session; the provider URL to visit."""
    session = session_for_token(token)
    version = session_version(session)
    auth = version.authentication
    if auth.get("type") != "oauth2":
        raise ServiceError(_("This connector does not sign in with OAuth."))
    client_id = str(session.profile.setup_values.get("client_id") or "")
    if not client_id:
        raise ServiceError(
            _(
                "This connection cannot start yet: the profile has no OAuth client id. "
                "Ask the team that sent you this link."
            )
        )
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    with transaction.atomic():
        session = lock_usable(session.pk)
        session.oauth_state_hash = digest(state)
        session.oauth_verifier = encrypt_text(verifier)
        session.oauth_state_used_at = None
        session.save(update_fields=["oauth_state_hash", "oauth_verifier", "oauth_state_used_at"])
    states = dict(browser.get(BROWSER_STATES) or {})
    states[digest(state)] = session.pk
    browser[BROWSER_STATES] = dict(list(states.items())[-5:])
    oauth = OAuth2Session(
        client_id, redirect_uri=redirect_uri(), scope=oauth_scopes(session, version)
    )
    url, _state = oauth.authorization_url(
        str(auth.get("authorizationUrl")),
        state=state,
        code_challenge=_challenge(verifier),
        code_challenge_method="S256",
    )
    return url


class CallbackError(Exception):
    """A failed sign-in; ``code`` is what an error_url receives as ``error``."""

    def __init__(
        self, message: str, *, session: ConnectSession | None = None, code: str = "oauth_failed"
    ) -> None:
        super().__init__(message)
        self.message = message
        self.session = session
        self.code = code


def _exchange(
    session: ConnectSession, version: ConnectorVersion, code: str, verifier: str
) -> dict[str, Any]:
    auth = version.authentication
    token_url = str(auth.get("tokenUrl") or "")
    try:
        check_token_url(token_url)
    except UpstreamError as exc:
        raise CallbackError(exc.message, session=session) from exc
    client_id = str(session.profile.setup_values.get("client_id") or "")
    client_secret = str(decrypt_json(session.profile.setup_secrets).get("client_secret") or "")
    client = WebApplicationClient(client_id)
    body = client.prepare_request_body(
        code=code, redirect_uri=redirect_uri(), include_client_id=True, code_verifier=verifier
    )
    try:
        response = token_post(token_url, client_id, client_secret, body)
        if response.status >= 500:
            raise CallbackError(
                _(
                    "The provider could not complete the sign-in (HTTP %(status)s). "
                    "Nothing was saved; please try again later."
                )
                % {"status": response.status},
                session=session,
            )
        token = token_answer(client, response)
    except requests.Timeout as exc:
        raise CallbackError(
            _("The provider did not answer in time. Nothing was saved; please try again."),
            session=session,
        ) from exc
    except OAuth2Error as exc:
        raise CallbackError(
            _(
                "The provider refused the sign-in (%(error)s). Nothing was saved; "
                "start again from your link."
            )
            % {"error": exc.error},
            session=session,
        ) from exc
    except (requests.RequestException, DestinationRefused, ResponseTooLarge, ValueError) as exc:
        raise CallbackError(
            _("The provider could not be reached. Nothing was saved; please try again."),
            session=session,
        ) from exc
    return merge_tokens({}, dict(token))


def _same_origin(issuer: str, url: str) -> bool:
    """RFC 9207: the ``iss`` a provider returns must name its own origin (scheme and host)."""
    a, b = urlsplit(issuer), urlsplit(url)
    return bool(a.scheme and a.netloc) and (a.scheme, a.netloc.lower()) == (
        b.scheme,
        b.netloc.lower(),
    )


def oauth_callback(*, params: dict[str, str], browser: SessionBase) -> tuple[Connection, bool]:
    """Check and consume the state, exchange the code, save the connection: (connection,
    re-authenticated?). CallbackError (nothing saved) otherwise."""
    state = params.get("state") or ""
    if not state:
        raise CallbackError(_("The sign-in response is missing its state. Nothing was saved."))
    state_hash = digest(state)
    states = dict(browser.get(BROWSER_STATES) or {})
    session_id = states.pop(state_hash, None)
    browser[BROWSER_STATES] = states
    if session_id is None:
        raise CallbackError(
            _(
                "This sign-in was not started in this browser, or it has already finished. "
                "Nothing was saved; open your link again."
            )
        )
    consumed = ConnectSession.objects.filter(
        pk=session_id, oauth_state_hash=state_hash, oauth_state_used_at__isnull=True
    ).update(oauth_state_used_at=timezone.now())
    if consumed != 1:
        raise CallbackError(_("This sign-in response was used already. Nothing more was saved."))
    session = sessions_with_profile().get(pk=session_id)
    if session.locale:
        translation.activate(session.locale)  # the caller's override restores the language
    try:
        check_usable(session)
    except SessionUnusable as exc:
        raise CallbackError(exc.message, session=session, code=exc.kind) from exc
    error = params.get("error")
    if error == "access_denied":
        raise CallbackError(
            _(
                "You declined access, so nothing was connected. You can start again from the "
                "same link."
            ),
            session=session,
            code="access_denied",
        )
    if error:
        raise CallbackError(
            _("The provider could not complete the sign-in (%(error)s). Nothing was saved.")
            % {"error": error[:60]},
            session=session,
        )
    version = session_version(session)
    issuer = params.get("iss")
    if issuer and not _same_origin(issuer, str(version.authentication.get("authorizationUrl"))):
        raise CallbackError(
            _("The sign-in response came from an unexpected issuer."), session=session
        )
    code = params.get("code") or ""
    if not code:
        raise CallbackError(
            _("The sign-in response has no code. Nothing was saved."), session=session
        )
    verifier = decrypt_text(session.oauth_verifier)
    tokens = _exchange(session, version, code, verifier)
    with transaction.atomic():
        try:
            locked = lock_usable(session.pk)
        except SessionUnusable as exc:
            raise CallbackError(exc.message, session=session, code=exc.kind) from exc
        connection = save_connection(
            session=locked, version=version, config={}, tokens=tokens, verified=False
        )
        connection_id = connection.pk
        enqueue_on_commit("connections.tasks.check_health_after_connect", connection_id)
    logger.info("connect session %s: OAuth connection %s saved", session.pk, connection.pk)
    return connection, locked.account_id is not None
