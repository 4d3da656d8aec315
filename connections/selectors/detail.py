"""One connection's page: config labels, credentials shown masked, its activity, the latest
re-authentication link, the timeline."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django.db.models import (
    QuerySet,
)
from django.utils import timezone

from connectors.models import ConnectorVersion
from core import baked, freshness
from projects.crypto import decrypt_json, fernet, mask
from projects.models import AuditEntry

from ..models import (
    Connection,
    ConnectSession,
    Health,
    HealthCheck,
    Status,
)


def config_labels(version_id: int | None) -> dict[str, str]:
    """Config field key → label of a version's ``authentication.configFields`` (the credentials
    shown on a connection's page), held in the per-process layer like ``version_labels``: at
    most one query, for that JSON path alone, never the whole definition."""
    if not version_id:
        return {}
    key = f"version-config-labels:{version_id}"
    held = freshness.local_get(key)
    if held is freshness.MISS:
        fields = (
            ConnectorVersion.objects.filter(pk=version_id)
            .values_list("definition__authentication__configFields", flat=True)
            .first()
        )
        held = tuple(
            (f["key"], str(f.get("label") or f["key"]))
            for f in (fields if isinstance(fields, list) else [])
            if isinstance(f, dict) and isinstance(f.get("key"), str)
        )
        freshness.local_set(key, held)
    return dict(held)


def credentials_masked(connection: Connection) -> list[tuple[str, str, bool]]:
    """(label, shown value, secret?) for each stored credential; secrets masked ••••1234."""
    labels = config_labels(connection.resolved_version_id)
    rows = [(labels.get(k, k), str(v), False) for k, v in connection.config_values.items()]
    secrets = decrypt_json(connection.config_secrets)
    rows += [(labels.get(k, k), mask(str(v)), True) for k, v in secrets.items()]
    if connection.oauth_tokens:
        tokens = decrypt_json(connection.oauth_tokens)
        for key, label in (("access_token", "Access token"), ("refresh_token", "Refresh token")):
            if tokens.get(key):
                rows.append((label, mask(str(tokens[key])), True))
        if tokens.get("scope"):
            scope = tokens["scope"]
            rows.append(
                ("Granted scopes", " ".join(scope) if isinstance(scope, list) else scope, False)
            )
    return rows


def masked_config(connection: Connection) -> dict[str, str]:
    """Config values for the API: plain ones as stored, secret ones masked."""
    return masked_values(connection.config_values, connection.config_secrets)


def masked_values(config_values: dict[str, Any], config_secrets: str) -> dict[str, str]:
    """``masked_config`` of a row read as values (its stored columns)."""
    values = {k: str(v) for k, v in config_values.items()}
    values.update(_shown("secrets", config_secrets, _masked))
    return values


def oauth_scopes(oauth_tokens: str) -> list[str]:
    """The scopes granted to a stored (encrypted) OAuth token set: ``scopes`` or ``scope``,
    as a list or a space-separated string."""
    return list(_shown("scopes", oauth_tokens, _scopes))


def _masked(secrets: dict[str, Any]) -> dict[str, str]:
    return {k: mask(str(v)) for k, v in secrets.items()}


def _scopes(token_set: dict[str, Any]) -> tuple[str, ...]:
    raw = token_set.get("scopes", token_set.get("scope")) or []
    return tuple(raw.split() if isinstance(raw, str) else (str(s) for s in raw))


# What the API shows of stored secrets (masked values, scopes), by ciphertext: decrypting was
# most of a list row's cost, and a page read again shows the same rows. A ciphertext never
# changes meaning (every write and every key rotation stores a new one; a tampered one is
# another string, decrypted and refused), the entries hold no secret, and they are dropped
# when the configured keys change (a retired key's ciphertexts are refused again at once).
SHOWN_MAX = 10_000
_shown_entries: dict[tuple[str, str], Any] = {}
_shown_by: list[object] = [None]  # the keys (crypto.fernet(), one per configuration) they hold


def _shown(kind: str, ciphertext: str, show: Any) -> Any:
    if not ciphertext:
        return show({})
    keys = fernet()
    if keys is not _shown_by[0]:
        _shown_entries.clear()
        _shown_by[0] = keys
    held = _shown_entries.get((kind, ciphertext))
    if held is None:
        held = show(decrypt_json(ciphertext))
        if len(_shown_entries) >= SHOWN_MAX:
            _shown_entries.clear()
        _shown_entries[(kind, ciphertext)] = held
    return held


def activity_of(connection: Connection, *, limit: int) -> list[AuditEntry]:
    """The connection's newest audit entries."""
    return list(
        AuditEntry.objects.filter(
            target_type="connection", target_id=str(connection.pk), project_id=connection.project_id
        ).order_by("-id")[:limit]
    )


@dataclass(frozen=True)
class ReauthLink:
    """The newest re-authentication link of a connection, for its overview (no token: only
    its digest is stored)."""

    session: ConnectSession
    state: str  # "used", "expired" or "unused"


def _newest_reauth(connection_id: int) -> QuerySet[ConnectSession, int]:
    rows = ConnectSession.objects.filter(account_id=connection_id)
    return rows.order_by("-created_at", "-pk").values_list("pk", flat=True)[:1]


def latest_reauth_session(connection: Connection) -> ReauthLink | None:
    """The newest connect session that re-authenticates ``connection`` (dashboard or API).
    Most connections never had one: its id alone first (a cheap query, ~0.35 ms of CPU less a
    page than loading the row with its profile; baked, ~0.5 ms less: core.baked), the row only
    when there is one."""
    newest = baked.rows("reauth.newest", _newest_reauth, connection.pk)
    if not newest:
        return None
    session = ConnectSession.objects.select_related("profile").get(pk=newest[0])
    if session.used_at is not None:
        state = "used"
    elif session.expires_at <= timezone.now():
        state = "expired"
    else:
        state = "unused"
    return ReauthLink(session, state)


# --- The connection's timeline ------------------------------------------------------------

TIMELINE_PAGE = 25


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str  # "health-<status>", "audit", or what another app's provider names
    title: str
    detail: str = ""
    actor: str = ""


# Labels by stored value (a value no choice knows shows as itself), for rows read as tuples.
HEALTH_LABELS: dict[str, str] = dict(Health.choices)
STATUS_LABELS: dict[str, str] = dict(Status.choices)
_AUDIT_TITLES = {
    "connection.health_changed": "Health changed",
    "connection.needs_reauth": "Needs re-authentication",
    "connection.reauthenticated": "Re-authenticated",
    "connection.tokens_refreshed": "Tokens refreshed",
    "connection.status_changed": "Status changed",
    "connection.disabled": "Disabled",
    "connection.active": "Enabled",
    "connection.created": "Connected",
    "connection.credentials_replaced": "Credentials replaced",
    "connection.renamed": "Renamed",
    "connection.grant_set": "Access granted",
    "connection.grant_removed": "Access removed",
    "connection.organization_role": "Organization role changed",
    "connection.moved": "Moved to another profile",
}


def _checks(
    connection_id: int, *before: datetime, limit: int
) -> QuerySet[HealthCheck, tuple[Any, ...]]:
    rows = HealthCheck.objects.filter(connection_id=connection_id)
    if before:
        rows = rows.filter(checked_at__lt=before[0])
    return rows.order_by("-checked_at", "-id").values_list("checked_at", "status", "detail")[:limit]


def _audit(
    project_id: int, target_id: str, *before: datetime, limit: int
) -> QuerySet[AuditEntry, tuple[Any, ...]]:
    rows = AuditEntry.objects.filter(
        target_type="connection", target_id=target_id, project_id=project_id
    )
    if before:
        rows = rows.filter(created_at__lt=before[0])
    return rows.order_by("-created_at", "-id").values_list(
        "created_at", "action", "before", "after", "actor_label"
    )[:limit]


def timeline(
    connection: Connection,
    *,
    before: datetime | None = None,
    limit: int = TIMELINE_PAGE,
    others: Iterable[TimelineItem] = (),
) -> tuple[list[TimelineItem], datetime | None]:
    """Health checks, audit entries (token refresh, re-authentication, moves, status and role
    changes) and ``others``: what higher apps read for the same page (the dashboard passes the
    request log's failures: at most ``limit + 1`` items before ``before``), newest first, one
    page before ``before``; with the cursor of the next page. Two queries, whatever the
    history's length, baked per shape
    (core.baked: building and compiling them cost ~0.7 ms of CPU each a page)."""
    paged = (before,) if before is not None else ()
    shape = ("paged" if paged else "newest", limit + 1)
    checks = baked.rows(
        ("timeline.checks", *shape),
        partial(_checks, limit=limit + 1),
        connection.pk,
        *paged,
    )
    audit = baked.rows(
        ("timeline.audit", *shape),
        partial(_audit, limit=limit + 1),
        connection.project_id,
        str(connection.pk),
        *paged,
    )
    # The columns shown only, as tuples: no model instances (~20 µs a row).
    items = [
        TimelineItem(
            checked_at,
            f"health-{status}",
            f"Health check: {HEALTH_LABELS.get(status, status)}",
            detail,
        )
        for checked_at, status, detail in checks
    ]
    items += [
        TimelineItem(
            created_at,
            "audit",
            _AUDIT_TITLES.get(action, action),
            _changes(before_value, after_value),
            actor_label,
        )
        for created_at, action, before_value, after_value, actor_label in audit
    ]
    items += others
    items.sort(key=lambda item: item.at, reverse=True)
    page, more = items[:limit], len(items) > limit
    return page, (page[-1].at if more and page else None)


def _changes(before: Any, after: Any) -> str:
    def text(value: Any) -> str:
        if not value:
            return "–"
        if isinstance(value, dict):
            return ", ".join(f"{k}: {v if v not in ('', None) else '–'}" for k, v in value.items())
        return str(value)

    return f"{text(before)} → {text(after)}" if before or after else ""
