"""Writes on connections: create, rename, status, delete, grants, organization-level role,
health and token bookkeeping. Every write is audited; no audit entry holds a secret."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from connectors.models import ConnectorVersion
from core.validation import text_problem
from profiles.models import ConnectorProfile
from profiles.selectors import resolve_profile
from projects.crypto import encrypt_json
from projects.models import Membership, Team
from projects.services import Actor, ServiceError, audit_record

from .. import counters, rbac
from ..cache import profile_connections_changed
from ..models import (
    Connection,
    ConnectionGrant,
    ConnectSession,
    GrantRole,
    Health,
    OrgRole,
    Status,
    SubjectType,
)
from .announce import announce, announce_status

MAX_CONFIG_VALUE = 4096


def _audit(
    actor: Actor,
    connection: Connection,
    action: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    project = connection.project
    audit_record(
        actor=actor,
        organization=project.organization,
        project=project,
        action=action,
        target=connection,
        before=before,
        after=after,
    )


def resolved_version(profile: ConnectorProfile) -> ConnectorVersion:
    resolved = resolve_profile(profile)
    if resolved is None:
        raise ServiceError(f"The profile {profile.name} resolves to no version.")
    return ConnectorVersion.objects.get(pk=resolved.id)


def split_config(
    version: ConnectorVersion, values: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Validate end-user config values against the version's configFields: (plain, secret).

    Unknown keys are ignored; required fields must be present; select fields take one of
    their options. Errors name the field (400)."""
    fields = version.authentication.get("configFields") or []
    plain: dict[str, str] = {}
    secret: dict[str, str] = {}
    for f in fields:
        if not isinstance(f, dict) or not isinstance(f.get("key"), str):
            continue
        key = f["key"]
        value = str(values.get(key, "") or "").strip()
        label = f.get("label") or key
        if not value:
            if f.get("required"):
                raise ServiceError(_("%(label)s is required.") % {"label": label}, field=key)
            continue
        if len(value) > MAX_CONFIG_VALUE:
            raise ServiceError(
                _("%(label)s is too long (at most %(max)d characters).")
                % {"label": label, "max": MAX_CONFIG_VALUE},
                field=key,
            )
        problem = config_value_problem(f, value, label)
        if problem is not None:
            raise ServiceError(problem, field=key)
        if f.get("type") == "boolean":
            value = value.lower()
        (secret if f.get("secret") else plain)[key] = value
    return plain, secret


# A decimal number as JSON writes it: no NaN, no Infinity, no 0x10, no 1_000, no "1,5".
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_WEB_ADDRESS = URLValidator(schemes=["https", "http"])


def config_value_problem(field: dict[str, Any], value: str, label: str) -> str | None:
    """What is wrong with a config value for its field's ``type`` (url, number, boolean,
    email, select), in the active language (the hosted page's); None when it fits. ``value``
    is stripped and not empty."""
    kind = field.get("type")
    if kind == "number":
        if not _NUMBER.fullmatch(value) or not math.isfinite(float(value)):
            return _("%(label)s must be a number.") % {"label": label}
    elif kind == "boolean":
        if value.lower() not in ("true", "false"):
            return _("%(label)s must be true or false.") % {"label": label}
    elif kind == "url":
        try:
            _WEB_ADDRESS(value)
        except ValidationError:
            return _("%(label)s must be a web address starting with https:// or http://.") % {
                "label": label
            }
    elif kind == "email":
        try:
            validate_email(value)
        except ValidationError:
            return _("%(label)s must be an email address, such as name@example.com.") % {
                "label": label
            }
    elif kind == "select":
        options = field.get("options")
        if isinstance(options, list) and value not in options:
            return _("%(label)s must be one of %(options)s.") % {
                "label": label,
                "options": ", ".join(map(str, options)),
            }
    return None


def tokens_blob(tokens: dict[str, Any] | None) -> tuple[str, Any]:
    """The encrypted token set and its expiry (plain, for lists)."""
    if not tokens:
        return "", None
    expires_at = tokens.get("expires_at")
    expiry = (
        datetime.fromtimestamp(float(expires_at), tz=UTC)
        if isinstance(expires_at, int | float)
        else None
    )
    return encrypt_json(tokens), expiry


@transaction.atomic
def connection_create(
    *,
    actor: Actor,
    profile: ConnectorProfile,
    origin_owner_id: str,
    origin_owner_name: str = "",
    origin_username: str = "",
    email: str = "",
    name: str = "",
    config: dict[str, str] | None = None,
    oauth_tokens: dict[str, Any] | None = None,
) -> Connection:
    """A new connection on ``profile``, its config validated against the version the profile
    resolves to now; secret values and tokens are encrypted before they reach the database."""
    origin_owner_id = origin_owner_id.strip()
    if not origin_owner_id:
        raise ServiceError("origin_owner_id is required.", field="origin_owner_id")
    version = resolved_version(profile)
    plain, secret = split_config(version, config or {})
    blob, expiry = tokens_blob(oauth_tokens)
    now = timezone.now()
    connection = Connection.objects.create(
        project=profile.project,
        profile=profile,
        connector_id=profile.connector_id,
        origin_owner_id=origin_owner_id[:255],
        origin_owner_name=origin_owner_name.strip()[:255],
        origin_username=origin_username.strip()[:255],
        email=email.strip()[:254],
        name=(name.strip() or origin_owner_name.strip() or origin_owner_id)[:200],
        config_values=plain,
        config_secrets=encrypt_json(secret) if secret else "",
        oauth_tokens=blob,
        token_expires_at=expiry,
        resolved_version=version,
        last_used_at=now,
    )
    counters.added(connection)
    profile_connections_changed(profile.pk)
    _audit(
        actor,
        connection,
        "connection.created",
        after={
            "profile": profile.name,
            "version": version.version,
            "origin_owner_id": connection.origin_owner_id,
            "fields": sorted([*plain, *secret]),
        },
    )
    announce(connection, "created")
    return connection


def revoke_links(*, connection_ids: list[int]) -> int:
    """Expire the unused re-authentication links of these connections (disabled accounts,
    completed migrations): a link sent earlier can no longer change them."""
    return ConnectSession.objects.filter(
        account_id__in=connection_ids, used_at__isnull=True, expires_at__gt=timezone.now()
    ).update(expires_at=timezone.now())


class ConnectionGone(ServiceError):
    """The connection was deleted by a concurrent request after the caller read it."""

    status = 404
    code = "not_found"


def _locked(connection: Connection) -> Connection:
    """The connection's row, locked for this transaction; ConnectionGone (404, nothing
    written) when a concurrent delete won the race."""
    try:
        return (
            Connection.objects.select_for_update(of=("self",))
            .select_related("project__organization", "profile", "connector")
            .get(pk=connection.pk)
        )
    except Connection.DoesNotExist:
        raise ConnectionGone("This connection no longer exists: it was just deleted.") from None


@transaction.atomic
def connection_rename(*, actor: Actor, connection: Connection, name: str) -> Connection:
    name = name.strip()
    if not name:
        raise ServiceError("Give the connection a name.", field="name")
    problem = text_problem(name, max_length=200)
    if problem is not None:
        raise ServiceError(f"The name {problem}.", field="name")
    connection = _locked(connection)
    if name != connection.name:
        before = connection.name
        connection.name = name
        connection.save(update_fields=["name", "updated_at"])
        _audit(
            actor, connection, "connection.renamed", before={"name": before}, after={"name": name}
        )
    return connection


@transaction.atomic
def connection_set_status(*, actor: Actor, connection: Connection, status: str) -> Connection:
    """Disable, re-enable (active) or mark as needing re-authentication."""
    if status not in (Status.ACTIVE, Status.DISABLED, Status.NEEDS_REAUTH):
        raise ServiceError("Status must be active, disabled or needs_reauth.", field="status")
    connection = _locked(connection)
    if status != connection.status:
        counted = counters.key_of(connection)
        before = connection.status
        connection.status = status
        fields = ["status", "updated_at"]
        if status == Status.NEEDS_REAUTH:
            connection.health = Health.NEEDS_REAUTH
            fields.append("health")
        if status == Status.ACTIVE:  # an admin's "try again": no backoff left to wait out
            connection.refresh_failures = connection.health_failures = 0
            connection.refresh_retry_at = connection.health_retry_at = None
            fields += ["refresh_failures", "refresh_retry_at", "health_failures", "health_retry_at"]
        connection.save(update_fields=fields)
        counters.changed(counted, connection)
        if status == Status.DISABLED:
            revoke_links(connection_ids=[connection.pk])
        _audit(
            actor,
            connection,
            f"connection.{status}",
            before={"status": before},
            after={"status": status},
        )
        announce_status(connection, before)
    return connection


def connection_needs_reauth(*, actor: Actor, connection: Connection) -> None:
    """The provider refused the connection's credentials for good (the runtime): mark it as
    needing re-authentication; ``connection`` (the caller's copy) takes the new status."""
    if connection.status != Status.NEEDS_REAUTH:
        connection_set_status(actor=actor, connection=connection, status=Status.NEEDS_REAUTH)
        connection.status = Status.NEEDS_REAUTH


# How often a connection's last-used time is written: at most once a minute per connection.
def connection_record_use(*, connection: Connection, version_id: int | None, at: datetime) -> None:
    """Record what served a request through ``connection`` (the runtime calls it in the
    transaction that writes the request's log row): the version its profile resolved to
    (``resolved_version``, counted by ``counters``) and the last-used time, every time, so
    that "Last used" is never behind the Requests tab. ``connection`` (the caller's copy)
    follows."""
    moved = version_id is not None and connection.resolved_version_id != version_id
    changes: dict[str, Any] = {"last_used_at": at}
    if moved:
        changes["resolved_version_id"] = version_id
    with transaction.atomic():
        # Only from the state it was read in (version, status, health: what it is counted
        # under): a concurrent write that changed it first has counted its own change
        # (counters); the move then waits for the next request.
        rows = Connection.objects.filter(
            pk=connection.pk,
            resolved_version_id=connection.resolved_version_id,
            status=connection.status,
            health=connection.health,
        ).update(**changes)
        if rows and moved:
            counted = counters.key_of(connection)
            connection.resolved_version_id = version_id
            counters.changed(counted, connection)
        elif not rows:
            Connection.objects.filter(pk=connection.pk).update(last_used_at=at)
    connection.last_used_at = at


@transaction.atomic
def connection_delete(*, actor: Actor, connection: Connection) -> None:
    connection = _locked(connection)
    _audit(
        actor,
        connection,
        "connection.deleted",
        before={"origin_owner_id": connection.origin_owner_id, "profile": connection.profile.name},
    )
    profile_id = connection.profile_id
    counters.removed(connection)
    announce(connection, "deleted")
    connection.delete()
    profile_connections_changed(profile_id)


def connections_bulk(
    *, actor: Actor, viewer: rbac.Viewer, connections: Iterable[Connection], action: str
) -> tuple[int, int]:
    """Apply ``action`` (disable, enable, delete, needs_reauth) to each connection the viewer
    may change: (done, skipped for lack of access)."""
    rows = list(connections)
    role_of = rbac.roles(viewer, rows)
    need = rbac.ConnNeed.OWN if action == "delete" else rbac.ConnNeed.WRITE
    done = skipped = 0
    for connection in rows:
        if not rbac.allows(role_of[connection.pk], need):
            skipped += 1
            continue
        if action == "delete":
            connection_delete(actor=actor, connection=connection)
        elif action == "disable":
            connection_set_status(actor=actor, connection=connection, status=Status.DISABLED)
        elif action == "enable":
            connection_set_status(actor=actor, connection=connection, status=Status.ACTIVE)
        elif action == "needs_reauth":
            connection_set_status(actor=actor, connection=connection, status=Status.NEEDS_REAUTH)
        else:
            raise ServiceError(f"Unknown action “{action}”.", field="action")
        done += 1
    return done, skipped


# --- Access: grants and the organization-level role ------------------------------------------


def _subject_public_id(subject_id: Any) -> UUID:
    """A user's (their membership's) or a team's public id, as given."""
    if isinstance(subject_id, UUID):
        return subject_id
    try:
        return UUID(str(subject_id))
    except ValueError as exc:
        raise ServiceError("subject_id must be a user or team id.", field="subject_id") from exc


def _subject(connection: Connection, subject_type: str, subject_id: Any) -> User | Team:
    organization_id = connection.project.organization_id
    public_id = _subject_public_id(subject_id)
    if subject_type == SubjectType.USER:
        membership = (
            Membership.objects.select_related("user")
            .filter(organization_id=organization_id, public_id=public_id)
            .first()
        )
        if membership is None:
            raise ServiceError("No member of this organization has that id.", field="subject_id")
        return membership.user
    if subject_type == SubjectType.TEAM:
        team = Team.objects.filter(organization_id=organization_id, public_id=public_id).first()
        if team is None:
            raise ServiceError("No team of this organization has that id.", field="subject_id")
        return team
    raise ServiceError("subject_type must be user or team.", field="subject_type")


@transaction.atomic
def grant_set(
    *, actor: Actor, connection: Connection, subject_type: str, subject_id: Any, role: str
) -> ConnectionGrant:
    """Give a user or team ``role`` on the connection (creates or changes the grant)."""
    if role not in GrantRole.values:
        raise ServiceError("role must be viewer, editor or owner.", field="role")
    connection = _locked(connection)
    subject = _subject(connection, subject_type, subject_id)
    lookup = {"user": subject} if subject_type == SubjectType.USER else {"team": subject}
    grant = ConnectionGrant.objects.filter(connection=connection, **lookup).first()
    before = {"role": grant.role} if grant else None
    if grant is None:
        try:
            with transaction.atomic():
                grant = ConnectionGrant.objects.create(
                    connection=connection, subject_type=subject_type, role=role, **lookup
                )
        except IntegrityError as exc:  # pragma: no cover - serialized by the row lock
            raise ServiceError("That grant exists already.") from exc
    elif grant.role != role:
        grant.role = role
        grant.save(update_fields=["role"])
    else:
        return grant
    _audit(
        actor,
        connection,
        "connection.grant_set",
        before=before,
        after={"subject": f"{subject_type}:{subject}", "role": role},
    )
    return grant


@transaction.atomic
def grant_remove(
    *, actor: Actor, connection: Connection, subject_type: str, subject_id: Any
) -> None:
    connection = _locked(connection)
    if subject_type not in SubjectType.values:
        raise ServiceError("subject_type must be user or team.", field="subject_type")
    public_id = _subject_public_id(subject_id)
    if subject_type == SubjectType.USER:
        lookup: dict[str, Any] = {
            "user__memberships__public_id": public_id,
            "user__memberships__organization_id": connection.project.organization_id,
        }
    else:
        lookup = {"team__public_id": public_id}
    grant = (
        ConnectionGrant.objects.filter(connection=connection, **lookup)
        .select_related("user", "team")
        .first()
    )
    if grant is None:
        from django.http import Http404

        raise Http404("No such grant on this connection.")
    subject = grant.user if subject_type == SubjectType.USER else grant.team
    grant.delete()
    _audit(
        actor,
        connection,
        "connection.grant_removed",
        before={"subject": f"{subject_type}:{subject}", "role": grant.role},
    )


@transaction.atomic
def connection_set_org_role(
    *, actor: Actor, connection: Connection, role: str | None
) -> Connection:
    value = role or ""
    if value not in OrgRole.values:
        raise ServiceError("role must be null, viewer or editor.", field="role")
    connection = _locked(connection)
    if value != connection.org_role:
        before = connection.org_role or None
        connection.org_role = value
        connection.save(update_fields=["org_role", "updated_at"])
        _audit(
            actor,
            connection,
            "connection.organization_role",
            before={"role": before},
            after={"role": value or None},
        )
    return connection
