"""Health checks: a real HTTP request to the definition's ``healthCheck`` path.

The URL is ``baseUrl`` with ``${credentials.<key>}`` filled from the connection's config
values and the profile's setup values (each value URL-quoted, so a value can never change
the host or path structure), plus ``healthCheck.path``. Credentials go where the
authentication type puts them: an API-key header, HTTP basic, or an OAuth bearer token
(refreshed first when expired). One call through ``core.outbound`` (the address guard,
HEALTH_CHECK_TIMEOUT of wall clock in all, the body not read), no redirects followed (they
could carry the credentials elsewhere). The recorded error never holds a credential.

Outcome: the expected status (``expectStatus``, else any 2xx) → healthy; 401/403 →
needs_reauth; anything else, a timeout or a connection failure → unhealthy. What an outcome
does to the connection's status: connections.precedence (a stronger fact wins). Disabled
connections are never checked.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from connectors.models import ConnectorVersion
from core.outbound import DestinationRefused, guarded_request
from profiles.services import serving_count
from profiles.serving import serving_version
from projects.crypto import decrypt_json
from projects.services import Actor, audit_record

from .. import counters
from ..models import Connection, Health, HealthCheck, Status
from ..precedence import after_check
from . import backoff
from .announce import announce_status
from .credentials import stored_credentials
from .tokens import UpstreamError, connection_refresh_tokens, is_expired

logger = logging.getLogger(__name__)

_CREDENTIAL = re.compile(r"\$\{credentials\.([A-Za-z0-9_]+)\}")
MAX_PARALLEL = 8


@dataclass(frozen=True)
class HealthResult:
    status: str  # a Health value
    checked_at: datetime
    detail: str
    http_status: int | None = None
    host: str = ""  # the host called (never a credential: the URL's host only)
    error_class: str = ""  # the exception's class when the request failed


@dataclass
class Probe:
    """Everything one check needs, prepared from the database before any HTTP happens."""

    method: str = "GET"
    url: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    auth: tuple[str, str] | None = None
    expect: int | None = None
    secrets: list[str] = field(default_factory=list)
    problem: str = ""  # a reason the check cannot run (no healthCheck, missing credentials)


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        text = text.replace(secret, "••••")
    return text[:500]


def health_probe(connection: Connection, access_token: str | None = None) -> Probe:
    """Build the request from the connection's resolved version (no HTTP, no writes)."""
    probe = Probe()
    version = connection.resolved_version
    definition: dict[str, Any] = version.definition if version else {}
    check = definition.get("healthCheck")
    if not isinstance(check, dict) or not check.get("path"):
        probe.problem = "This connector's definition has no healthCheck, so it cannot be checked."
        return probe
    auth_def = definition.get("authentication") or {}
    stored = stored_credentials(connection)
    values = stored.values
    probe.secrets = stored.secret_values

    missing: list[str] = []

    def fill(match: re.Match[str]) -> str:
        value = values.get(match.group(1), "")
        if not value or value in (".", ".."):  # ".." would climb the URL's path
            missing.append(match.group(1))
        return quote(value, safe="")

    base = _CREDENTIAL.sub(fill, str(definition.get("baseUrl") or ""))
    if missing:
        probe.problem = f"Missing credentials for the health check: {', '.join(missing)}."
        return probe
    if not base.startswith(("http://", "https://")):
        probe.problem = "The connector's baseUrl is not an http(s) URL."
        return probe
    probe.url = base.rstrip("/") + "/" + str(check["path"]).lstrip("/")
    probe.method = str(check.get("method") or "GET").upper()
    expect = check.get("expectStatus")
    probe.expect = int(expect) if isinstance(expect, int) else None

    kind = auth_def.get("type")
    if kind == "api_key":
        key = stored.api_key()
        header = auth_def.get("headerName")
        if not key:
            probe.problem = "No API key is stored for this connection."
        elif isinstance(header, str) and header:
            probe.headers[header] = key
        else:
            probe.headers["Authorization"] = f"Bearer {key}"
    elif kind == "basic":
        probe.auth = stored.basic()
    elif kind == "oauth2":
        if not access_token:
            probe.problem = "No OAuth access token is stored for this connection."
        else:
            probe.headers["Authorization"] = f"Bearer {access_token}"
            probe.secrets.append(access_token)
    return probe


def health_probe_run(probe: Probe) -> HealthResult:
    """The HTTP part only (safe to run in a worker thread: no database access)."""
    now = timezone.now
    if probe.problem:
        return HealthResult(Health.UNKNOWN, now(), probe.problem)
    host = redact(urlsplit(probe.url).hostname or "", probe.secrets)
    try:
        response = guarded_request(
            probe.method,
            probe.url,
            max_bytes=None,  # the status decides; the body is not read
            headers={"User-Agent": "ConnectorHub-HealthCheck/1", **probe.headers},
            auth=probe.auth,
            timeout=settings.HEALTH_CHECK_TIMEOUT,
        )
    except DestinationRefused as exc:
        return HealthResult(
            Health.UNHEALTHY, now(), exc.message, host=host, error_class="DestinationRefused"
        )
    except requests.Timeout as exc:
        reason = type(exc).__name__
        return HealthResult(
            Health.UNHEALTHY,
            now(),
            f"{host or 'The provider'} did not answer in time ({reason}).",
            host=host,
            error_class=reason,
        )
    except requests.RequestException as exc:
        reason = type(exc).__name__
        return HealthResult(
            Health.UNHEALTHY,
            now(),
            redact(f"Could not reach {host or 'the provider'} ({reason}).", probe.secrets),
            host=host,
            error_class=reason,
        )
    code = response.status
    ok = code == probe.expect if probe.expect is not None else 200 <= code < 300
    if ok:
        return HealthResult(Health.HEALTHY, now(), f"HTTP {code} from {host}", code, host=host)
    if code in (401, 403):
        return HealthResult(
            Health.NEEDS_REAUTH,
            now(),
            f"HTTP {code} from {host}: the provider refused the credentials; the end user must "
            "reconnect.",
            code,
            host=host,
        )
    return HealthResult(Health.UNHEALTHY, now(), f"HTTP {code} from {host}.", code, host=host)


def _access_token(actor: Actor, connection: Connection) -> str | None:
    """The current access token, refreshed first when it has expired."""
    if not connection.oauth_tokens:
        return None
    tokens = decrypt_json(connection.oauth_tokens)
    if is_expired(tokens) and tokens.get("refresh_token"):
        try:
            result = connection_refresh_tokens(actor=actor, connection=connection, force=False)
        except UpstreamError:
            return str(tokens.get("access_token") or "") or None
        tokens = decrypt_json(result.connection.oauth_tokens)
    return str(tokens.get("access_token") or "") or None


@transaction.atomic
def health_result_record(
    *, actor: Actor, connection: Connection, result: HealthResult
) -> Connection:
    """Store a check's outcome: every check in the health history (HealthCheck), and on the
    row the status and health it implies where it is the stronger fact (connections.
    precedence: a failure that may pass never replaces needs_reauth or disabled). A failure
    that may pass counts one more in a row and sets when the scheduler may check again
    (connections.services.backoff); a healthy check resets that."""
    row = (
        Connection.objects.select_for_update(of=("self",))
        .select_related("project__organization", "profile")
        .get(pk=connection.pk)
    )
    if row.status == Status.DISABLED:  # disabled meanwhile: nothing is recorded
        return row
    counted = counters.key_of(row)
    before = {"health": row.health, "status": row.status}
    HealthCheck.objects.create(
        connection=row,
        checked_at=result.checked_at,
        status=result.status,
        detail=result.detail[:500],
        host=result.host[:255],
        error_class=result.error_class[:100],
        http_status=result.http_status,
    )
    row.health_checked_at = result.checked_at
    if result.status == Health.UNHEALTHY:
        row.health_failures += 1
        row.health_retry_at = backoff.retry_at(row.health_failures, result.checked_at)
    elif result.status != Health.UNKNOWN:
        row.health_failures, row.health_retry_at = 0, None
    if result.status == Health.HEALTHY:
        row.last_healthy_at = result.checked_at
    status, health = after_check(row.status, row.health, result.status)
    if row.status != Status.NEEDS_REAUTH:  # else the refusal's reason stays the one shown
        row.health_error = "" if result.status == Health.HEALTHY else result.detail
    row.status, row.health = status, health
    if result.status != Health.UNKNOWN:
        resolved = serving_version(row.profile, row.public_id).resolved
        if resolved is not None:
            row.resolved_version_id = resolved.id
            # A staged rollout's gate counts a check like a request of the version that
            # served it.
            failed = result.status in (Health.UNHEALTHY, Health.NEEDS_REAUTH)
            serving_count(profile=row.profile, version_id=resolved.id, error=failed)
        row.last_used_at = result.checked_at
    row.save()
    counters.changed(counted, row)
    after = {"health": row.health, "status": row.status}
    if after != before:
        audit_record(
            actor=actor,
            organization=row.project.organization,
            project=row.project,
            action="connection.health_changed",
            target=row,
            before=before,
            after={**after, "detail": row.health_error},
        )
    announce_status(row, before["status"])
    return row


def _loaded(connections: Iterable[Connection]) -> list[Connection]:
    """The rows with what a probe reads; a connection of a profile in a staged rollout is
    probed with the version that serves it now (profiles.serving), not the one it last used."""
    ids = [c.pk for c in connections]
    rows = list(
        Connection.objects.filter(pk__in=ids).select_related(
            "profile", "resolved_version", "project__organization"
        )
    )
    serving = {
        row.pk: resolved.id
        for row in rows
        if row.profile.rollout_key is not None
        and (resolved := serving_version(row.profile, row.public_id).resolved) is not None
        and resolved.id != row.resolved_version_id
    }
    if serving:
        versions = ConnectorVersion.objects.in_bulk(set(serving.values()))
        for row in rows:
            if row.pk in serving:
                row.resolved_version = versions[serving[row.pk]]
    return rows


DISABLED = "This connection is disabled: it is not checked."


def connection_check_health(*, actor: Actor, connection: Connection) -> HealthResult:
    """Check one connection now and record the outcome (a disabled one: no call, nothing
    recorded, ``unknown`` with the reason)."""
    (row,) = _loaded([connection])
    if row.status == Status.DISABLED:
        return HealthResult(Health.UNKNOWN, timezone.now(), DISABLED)
    result = health_probe_run(health_probe(row, _access_token(actor, row)))
    health_result_record(actor=actor, connection=row, result=result)
    logger.info("health check of connection %s: %s", row.pk, result.status)
    return result


def connections_check_health_bulk(
    *, actor: Actor, connections: Iterable[Connection]
) -> dict[int, HealthResult]:
    """Check many connections: requests prepared here, sent in parallel (at most
    MAX_PARALLEL at once), outcomes recorded here. Disabled ones are left alone (no call,
    nothing recorded): their result is ``unknown`` with the reason."""
    loaded = _loaded(connections)
    rows = [row for row in loaded if row.status != Status.DISABLED]
    probes = {row.pk: health_probe(row, _access_token(actor, row)) for row in rows}
    with ThreadPoolExecutor(max_workers=MAX_PARALLEL) as pool:
        results = dict(zip(probes, pool.map(health_probe_run, probes.values()), strict=True))
    for row in rows:
        health_result_record(actor=actor, connection=row, result=results[row.pk])
    now = timezone.now()
    for row in loaded:
        if row.status == Status.DISABLED:
            results[row.pk] = HealthResult(Health.UNKNOWN, now, DISABLED)
    return results
