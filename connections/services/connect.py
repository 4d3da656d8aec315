"""Connect sessions and the hosted API-key / basic connect flow.

A connect session is a random token (32 bytes, only its SHA-256 digest stored), routed to one
profile, valid for 30 minutes by default (5 days at most) and used once: the first saved
connection consumes it. With ``account`` it re-authenticates that connection in place and,
when the session's profile differs, moves it there (``moved_from_profile``, ``moved_at``) in
the same transaction.

The OAuth 2 flow is in ``services.oauth``.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from connectors.models import ConnectorVersion
from profiles.models import ConnectorProfile
from projects.crypto import encrypt_json
from projects.models import Project
from projects.services import Actor, ServiceError, audit_record

from .. import counters
from ..cache import profile_connections_changed
from ..models import Connection, ConnectSession, Health, Status
from . import branding, health
from .announce import announce, announce_status
from .connections import (
    connection_create,
    resolved_version,
    split_config,
    tokens_blob,
)

logger = logging.getLogger(__name__)

TOKEN_BYTES = 32
DEFAULT_LIFETIME = 1800
MAX_LIFETIME = 5 * 24 * 3600
MIN_LIFETIME = 60
BROWSER_STATES = "connect_oauth_states"  # request.session key: state digest → session id


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def redirect_uri() -> str:
    return settings.CONNECT_OAUTH_REDIRECT_URI or (
        settings.SITE_URL.rstrip("/") + reverse("connect_oauth_callback")
    )


# --- Creating sessions -------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatedSession:
    session: ConnectSession
    token: str
    url: str
    expires_at: datetime


def _profile_for(
    project: Project, connector_profile_id: UUID | None, connector_key: str | None
) -> ConnectorProfile:
    profiles = ConnectorProfile.objects.filter(project=project).select_related(
        "connector", "project"
    )
    if connector_profile_id is not None:
        profile = profiles.filter(public_id=connector_profile_id).first()
        if profile is None:
            raise Http404("No such connector profile in this project.")
        return profile
    if connector_key:
        profile = profiles.filter(connector__key=connector_key, is_default=True).first()
        if profile is None:
            raise ServiceError(
                f"This project has no default profile for “{connector_key}”; pass "
                "connector_profile_id or make a profile the default.",
                field="connector_key",
            )
        return profile
    raise ServiceError(
        "Pass connector_profile_id, or connector_key to use the project's default profile.",
        field="connector_profile_id",
    )


@transaction.atomic
def connect_session_create(
    *,
    actor: Actor,
    project: Project,
    origin_owner_id: str = "",
    origin_owner_name: str = "",
    origin_username: str = "",
    email: str = "",
    connector_profile_id: UUID | None = None,
    connector_key: str | None = None,
    account_id: UUID | None = None,
    expires_in: int = DEFAULT_LIFETIME,
    success_url: str = "",
    error_url: str = "",
    locale: str = "",
) -> CreatedSession:
    if not MIN_LIFETIME <= expires_in <= MAX_LIFETIME:
        raise ServiceError(
            f"expires_in must be between {MIN_LIFETIME} and {MAX_LIFETIME} seconds (5 days).",
            field="expires_in",
        )
    profile = _profile_for(project, connector_profile_id, connector_key)
    account = None
    if account_id is not None:
        account = Connection.objects.filter(project=project, public_id=account_id).first()
        if account is None:
            raise Http404("No such connection (account_id) in this project.")
        if account.connector_id != profile.connector_id:
            raise ServiceError(
                "account_id belongs to another connector than the profile; a connection can "
                "only be re-authenticated on a profile of its own connector.",
                field="account_id",
            )
        origin_owner_id = origin_owner_id or account.origin_owner_id
        origin_owner_name = origin_owner_name or account.origin_owner_name
        origin_username = origin_username or account.origin_username
        email = email or account.email
        locale = locale or connection_locale(account)
    origin_owner_id = origin_owner_id.strip()
    if not origin_owner_id:
        raise ServiceError("origin_owner_id is required.", field="origin_owner_id")
    if success_url or error_url:
        allowed = branding.look_of(project, branding.branding_of(project)).allowed_origins
        if success_url:
            branding.check_return_url(success_url, list(allowed), field="success_url")
        if error_url:
            branding.check_return_url(error_url, list(allowed), field="error_url")
    locale = session_locale(locale)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    expires_at = timezone.now() + timedelta(seconds=expires_in)
    session = ConnectSession.objects.create(
        project=project,
        profile=profile,
        token_hash=digest(token),
        origin_owner_id=origin_owner_id[:255],
        origin_owner_name=origin_owner_name.strip()[:255],
        origin_username=origin_username.strip()[:255],
        email=email.strip()[:254],
        account=account,
        expires_at=expires_at,
        created_by_label=actor.label[:200],
        success_url=success_url,
        error_url=error_url,
        locale=locale,
    )
    audit_record(
        actor=actor,
        organization=project.organization,
        project=project,
        action="connect_session.reauth_created" if account else "connect_session.created",
        target=session,
        after={
            "profile": profile.name,
            "origin_owner_id": session.origin_owner_id,
            "account": account.pk if account else None,
            "expires_at": expires_at.isoformat(),
            **({"locale": locale} if locale else {}),
            **({"success_url": success_url} if success_url else {}),
            **({"error_url": error_url} if error_url else {}),
        },
    )
    url = settings.SITE_URL.rstrip("/") + reverse("connect_page", args=[token])
    return CreatedSession(session, token, url, expires_at)


def session_locale(raw: str) -> str:
    """A session's ``locale``: one of settings.LANGUAGES (``de``, ``de-DE`` → ``de``), or ""."""
    value = raw.strip()
    if not value:
        return ""
    codes = ", ".join(code for code, _name in settings.LANGUAGES)
    refused = ServiceError(f"locale must be one of {codes}.", field="locale")
    if len(value) > 10:
        raise refused
    try:
        return translation.get_supported_language_variant(value.lower())
    except LookupError as exc:
        raise refused from exc


def connection_locale(connection: Connection) -> str:
    """The language its end user last connected in (for a reconnect link or email), or ""."""
    return (
        ConnectSession.objects.filter(connection=connection, used_at__isnull=False)
        .exclude(locale="")
        .order_by("-used_at")
        .values_list("locale", flat=True)
        .first()
        or ""
    )


# --- Using sessions ----------------------------------------------------------------------------


class SessionUnusable(Exception):
    """The link is unknown, expired or used; ``kind`` says which, for the page."""

    def __init__(self, kind: str, message: str, *, session: ConnectSession | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.session = session


def check_usable(session: ConnectSession | None) -> ConnectSession:
    if session is None:
        raise SessionUnusable("unknown", _("This link is not valid. Ask for a new one."))
    if session.used_at is not None:
        raise SessionUnusable(
            "used", _("This link has been used already: the account is connected."), session=session
        )
    if session.expires_at <= timezone.now():
        raise SessionUnusable(
            "expired", _("This link has expired. Ask for a new one."), session=session
        )
    return session


def sessions_with_profile() -> Any:
    return ConnectSession.objects.select_related(
        "project__organization", "profile__connector", "profile__project", "account"
    )


def session_for_token(token: str) -> ConnectSession:
    return check_usable(sessions_with_profile().filter(token_hash=digest(token)).first())


def session_version(session: ConnectSession) -> ConnectorVersion:
    return resolved_version(session.profile)


def save_connection(
    *,
    session: ConnectSession,
    version: ConnectorVersion,
    config: dict[str, str],
    tokens: dict[str, Any] | None,
    verified: bool,
) -> Connection:
    """Inside the caller's transaction, with the session row locked and checked usable."""
    now = timezone.now()
    actor = Actor()
    if session.account_id is None:
        connection = connection_create(
            actor=actor,
            profile=session.profile,
            origin_owner_id=session.origin_owner_id,
            origin_owner_name=session.origin_owner_name,
            origin_username=session.origin_username,
            email=session.email,
            config=config,
            oauth_tokens=tokens,
        )
    else:
        connection = (
            Connection.objects.select_for_update(of=("self",))
            .select_related("profile", "project__organization")
            .get(pk=session.account_id)
        )
        counted = counters.key_of(connection)
        plain, secret = split_config(version, config)
        before = {"profile": connection.profile.name, "status": connection.status}
        connection.config_values = plain
        connection.config_secrets = encrypt_json(secret) if secret else ""
        if tokens is not None:
            connection.oauth_tokens, connection.token_expires_at = tokens_blob(tokens)
        moved_from = None
        old_profile = connection.profile
        if connection.profile_id != session.profile_id:
            moved_from = connection.profile_id
            connection.moved_from_profile = connection.profile
            connection.moved_at = now
            connection.profile = session.profile
        if connection.status != Status.DISABLED:  # an admin's "disabled" stays
            connection.status = Status.ACTIVE
        connection.resolved_version = version
        connection.last_used_at = now
        connection.health_error = ""
        # New credentials: whatever failed before is tried again at once.
        connection.refresh_failures = connection.health_failures = 0
        connection.refresh_retry_at = connection.health_retry_at = None
        connection.save()
        counters.changed(counted, connection)
        audit_record(
            actor=actor,
            organization=session.project.organization,
            project=session.project,
            action="connection.reauthenticated",
            target=connection,
            before=before,
            after={"profile": session.profile.name, "status": connection.status},
        )
        announce(connection, "updated", reason="reauthenticated")
        if moved_from is not None:
            profile_connections_changed(moved_from)
            announce(
                connection,
                "moved",
                from_profile_id=str(old_profile.public_id),
                to_profile_id=str(session.profile.public_id),
            )
        announce_status(connection, before["status"])
    if verified:  # the row is new or locked above
        counted = counters.key_of(connection)
        connection.health = Health.HEALTHY
        connection.health_checked_at = connection.last_healthy_at = now
        connection.save(update_fields=["health", "health_checked_at", "last_healthy_at"])
        counters.changed(counted, connection)
    session.used_at = now
    session.connection = connection
    # The language the page was shown in (the session's, else the browser's): the next
    # reconnect link and email of this connection speak it too.
    if not session.locale:
        try:
            session.locale = session_locale(translation.get_language() or "")
        except ServiceError:  # a language outside settings.LANGUAGES: none remembered
            session.locale = ""
    session.save(update_fields=["used_at", "connection", "locale"])
    return connection


def lock_usable(session_id: int) -> ConnectSession:
    session = sessions_with_profile().select_for_update(of=("self",)).filter(pk=session_id).first()
    return check_usable(session)


def verify_credentials(
    session: ConnectSession, version: ConnectorVersion, config: dict[str, str]
) -> bool:
    """Try the credentials with the definition's health check before anything is saved.

    True when the provider accepted them, False when there is no health check to run;
    ServiceError (nothing saved) when the provider refused them or could not be reached."""
    plain, secret = split_config(version, config)
    probe_row = Connection(
        project=session.project,
        profile=session.profile,
        connector_id=session.profile.connector_id,
        config_values=plain,
        config_secrets=encrypt_json(secret) if secret else "",
        resolved_version=version,
    )
    result = health.health_probe_run(health.health_probe(probe_row))
    if result.status == Health.HEALTHY:
        return True
    if result.status == Health.UNKNOWN:
        return False
    if result.status == Health.NEEDS_REAUTH:
        raise ServiceError(_("The provider rejected these credentials. Check them and try again."))
    raise ServiceError(
        _(
            "We could not verify these credentials with the provider right now (%(detail)s). "
            "Nothing was saved; try again in a moment."
        )
        % {"detail": result.detail.rstrip(".")}
    )


def connect_with_config(*, token: str, values: dict[str, str]) -> Connection:
    """The API-key / basic / custom form: validate, verify, then save (single use)."""
    session = session_for_token(token)
    version = session_version(session)
    if version.authentication.get("type") == "oauth2":
        raise ServiceError(_("This connector signs in with OAuth; use the sign-in button."))
    verified = verify_credentials(session, version, values)
    with transaction.atomic():
        session = lock_usable(session.pk)
        return save_connection(
            session=session, version=version, config=values, tokens=None, verified=verified
        )
