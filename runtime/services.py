"""Running an action through a connection (docs/connector-definition.md "Steps and
expressions"), and the request log.

``action_run`` resolves the connection's profile now (the shared resolution cache), loads
that version's definition (a process cache keyed by version id and ``updated_at``, checked
again whenever the connector's versions generation moves, so a forced overwrite is seen on
the next request), runs the action (``runtime.engine``) with the connection's credentials
and writes one request-log row. A provider 401/403 on OAuth 2 refreshes the tokens once
(connections' single-flight refresh) and retries; refused again → the connection needs
re-authentication (409). Nothing secret reaches an answer, an error or a log line: whatever
leaves ``action_run`` (the data and cursor of the API's answer, Try it, ``call_action`` and the
resources endpoints, which all come through it, and every error's message) has each secret
value of the connection and its profile masked (``engine.Redactor``).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from connections.models import Connection, Status
from connections.services import connections as connection_services
from connections.services.credentials import stored_credentials
from connections.services.tokens import UpstreamError, connection_refresh_tokens, is_expired
from connectors.cache import versions_generation
from connectors.models import ConnectorVersion
from core import deadline, pruning
from profiles.resolution import Resolved
from profiles.services import serving_count
from profiles.serving import gate_outcome, serving_version
from projects.crypto import decrypt_json
from projects.models import Project
from projects.services import Actor

from .engine import (
    ActionFailure,
    Credentials,
    Outcome,
    ProviderRefusedCredentials,
    Redactor,
    Run,
    run_action,
)
from .engine import validated_inputs as _validated_inputs
from .models import Channel, RequestLog, RequestStatus

logger = logging.getLogger(__name__)

DEFINITION_CACHE_SIZE = 256


@dataclass(frozen=True)
class ActionResult:
    data: Any
    next: Any
    action_id: str
    version: str
    builtin: bool
    provider_status: int | None
    duration_ms: int
    request_id: uuid.UUID


class ActionError(ActionFailure):
    """An ActionFailure with the request id and the version (when one was resolved)."""

    def __init__(self, failure: ActionFailure, request_id: uuid.UUID, version: str | None) -> None:
        super().__init__(
            failure.status,
            failure.code,
            failure.message,
            provider_status=failure.provider_status,
            fields=failure.fields,
        )
        self.request_id = request_id
        self.version = version


# --- Definitions -----------------------------------------------------------------------------

_definitions: OrderedDict[tuple[int, int], tuple[datetime, dict[str, Any]]] = OrderedDict()
_definitions_lock = threading.Lock()


def definition_of(resolved: Resolved, connector_id: int) -> dict[str, Any]:
    """The resolved version's definition. Keyed by (version id, the connector's versions
    generation): every publish, overwrite or delete bumps the generation for every process
    sharing the cache, and the row's ``updated_at`` is then read again."""
    key = (resolved.id, versions_generation(connector_id))
    with _definitions_lock:
        hit = _definitions.get(key)
        if hit is not None:
            _definitions.move_to_end(key)
            return hit[1]
    row = ConnectorVersion.objects.filter(pk=resolved.id).values_list("updated_at", "definition")
    found = row.first()
    if found is None:
        raise ActionFailure(409, "no_version", "The version this profile resolved to is gone.")
    with _definitions_lock:
        stale = [k for k, (updated, _) in _definitions.items() if k[0] == resolved.id]
        for old in stale:
            if _definitions[old][0] == found[0]:
                continue
            del _definitions[old]
        _definitions[key] = (found[0], found[1])
        while len(_definitions) > DEFINITION_CACHE_SIZE:
            _definitions.popitem(last=False)
    return found[1]


def action_of(definition: dict[str, Any], action_id: str) -> dict[str, Any] | None:
    for action in definition.get("actions") or []:
        if isinstance(action, dict) and action.get("actionId") == action_id:
            return action
    return None


# --- Credentials -----------------------------------------------------------------------------


def _declared_secrets(definition: dict[str, Any]) -> set[str]:
    auth = definition.get("authentication") or {}
    return {
        str(item.get("key"))
        for kind in ("setupFields", "configFields")
        for item in auth.get(kind) or []
        if isinstance(item, dict) and item.get("secret") is True
    }


def credentials_of(connection: Connection, definition: dict[str, Any]) -> Credentials:
    """The connection's and its profile's values, secrets decrypted, and where the
    definition's authentication puts them (the same choices as the health check). A value is
    secret when it is stored encrypted or this version declares its field ``secret``; the
    OAuth tokens are secrets too (to be masked, never values)."""
    auth = definition.get("authentication") or {}
    stored = stored_credentials(connection)
    secret_keys = {*stored.secrets, *stored.setup_secrets} | _declared_secrets(definition)
    secrets = [*stored.secret_values]
    secrets += [v for k, v in stored.values.items() if k in secret_keys]
    if connection.oauth_tokens:
        tokens = decrypt_json(connection.oauth_tokens)
        secrets += [str(tokens[k]) for k in ("access_token", "refresh_token") if tokens.get(k)]
    creds = Credentials(
        values=stored.values,
        auth_type=str(auth.get("type") or ""),
        header_name=str(auth.get("headerName") or ""),
        query_param=str(auth.get("queryParamName") or ""),
        secrets=secrets,
        secret_keys=frozenset(secret_keys),
    )
    if creds.auth_type == "api_key":
        creds.api_key = stored.api_key()
    elif creds.auth_type == "basic":
        creds.username, creds.password = stored.basic()
    return creds


def _access_token(actor: Actor, connection: Connection, *, force: bool) -> str:
    """The access token; refreshed first when expired (or ``force``: after a 401)."""
    tokens = decrypt_json(connection.oauth_tokens) if connection.oauth_tokens else {}
    if tokens.get("refresh_token") and (force or is_expired(tokens)):
        try:
            result = connection_refresh_tokens(actor=actor, connection=connection, force=force)
        except UpstreamError as exc:
            raise ActionFailure(502, "provider_error", exc.message) from exc
        connection.oauth_tokens = result.connection.oauth_tokens
        connection.status = result.connection.status
        tokens = decrypt_json(result.connection.oauth_tokens)
    return str(tokens.get("access_token") or "")


# --- Running ---------------------------------------------------------------------------------


def _refused(actor: Actor, connection: Connection, failure: ActionFailure) -> None:
    """The provider refused the credentials for good: the connection needs re-authentication."""
    connection_services.connection_needs_reauth(actor=actor, connection=connection)


def _execute(
    actor: Actor,
    project: Project,
    connection: Connection,
    action_id: str,
    inputs: dict[str, Any],
    send: Any,
    secrets: list[str],
) -> tuple[Resolved | None, Outcome]:
    """Run the action; ``secrets`` receives every secret value the run holds (to mask)."""
    resolved: Resolved | None = None
    if connection.status == Status.DISABLED:
        raise ActionFailure(409, "connection_disabled", "This connection is disabled.")
    connection.profile.project = project  # the resolution reads it; no query
    resolved = serving_version(connection.profile, connection.public_id).resolved
    if resolved is None:
        raise ActionFailure(409, "no_version", "The connection's profile resolves to no version.")
    try:
        definition = definition_of(resolved, connection.connector_id)
        action = action_of(definition, action_id)
        if action is None:
            raise ActionFailure(
                404,
                "action_not_found",
                f"Version {resolved.version} has no action {action_id!r}.",
            )
        values = _validated_inputs(action, inputs)
        creds = credentials_of(connection, definition)
        secrets.extend(creds.secrets)
        creds.secrets = secrets  # the tokens refreshed below are masked too
        oauth = creds.auth_type == "oauth2"
        if oauth:
            creds.access_token = _access_token(actor, connection, force=False)
            creds.secrets.append(creds.access_token)
        run = Run(definition=definition, action=action, inputs=values, credentials=creds)
        if send is not None:
            run.send = send
        try:
            return resolved, run_action(run)
        except ProviderRefusedCredentials as failure:
            if not (oauth and connection.oauth_tokens):
                _refused(actor, connection, failure)
                raise
            creds.access_token = _access_token(actor, connection, force=True)
            creds.secrets.append(creds.access_token)
            retry = Run(definition=definition, action=action, inputs=values, credentials=creds)
            if send is not None:
                retry.send = send
            try:
                return resolved, run_action(retry)
            except ProviderRefusedCredentials as again:
                _refused(actor, connection, again)
                raise
    except ActionFailure as failure:
        failure.resolved = resolved  # type: ignore[attr-defined]
        raise


def action_run(
    *,
    actor: Actor,
    project: Project,
    connection: Connection,
    action_id: str,
    inputs: dict[str, Any],
    send: Any = None,
    channel: Channel = Channel.API,
) -> ActionResult:
    """Run ``action_id`` of the version ``connection``'s profile resolves to now; one
    request-log row either way, marked with the ``channel`` it came in by. Raises
    ``ActionError`` (the API's status and code)."""
    start = time.perf_counter()
    request_id = uuid.uuid4()
    resolved: Resolved | None = None
    secrets: list[str] = []
    try:
        with deadline.ambient(settings.RUNTIME_ACTION_TIMEOUT):  # every call of the action
            resolved, outcome = _execute(
                actor, project, connection, action_id, inputs, send, secrets
            )
    except ActionFailure as failure:
        resolved = getattr(failure, "resolved", None)
        _redact_failure(failure, Redactor(secrets))
        _log(connection, action_id, resolved, request_id, start, channel, failure=failure)
        logger.info(
            "action %s on connection %s: %s (%s)",
            action_id,
            connection.pk,
            failure.code,
            failure.provider_status,
        )
        raise ActionError(failure, request_id, resolved.version if resolved else None) from None
    duration = _log(
        connection,
        action_id,
        resolved,
        request_id,
        start,
        channel,
        provider_status=outcome.provider_status,
    )
    assert resolved is not None
    redactor = Redactor(secrets)
    return ActionResult(
        data=redactor.value(outcome.data),
        next=redactor.value(outcome.next),
        action_id=action_id,
        version=resolved.version,
        builtin=resolved.builtin,
        provider_status=outcome.provider_status,
        duration_ms=duration,
        request_id=request_id,
    )


def _redact_failure(failure: ActionFailure, redactor: Redactor) -> None:
    """The message and field messages of ``failure`` with every secret masked (in place: it is
    what the API, Try it, ``call_action`` and the log line show)."""
    failure.message = redactor.text(failure.message)
    failure.args = (failure.message,)
    failure.fields = [
        {key: redactor.text(str(text)) for key, text in item.items()} for item in failure.fields
    ]


def _log(
    connection: Connection,
    action_id: str,
    resolved: Resolved | None,
    request_id: uuid.UUID,
    start: float,
    channel: Channel,
    *,
    failure: ActionFailure | None = None,
    provider_status: int | None = None,
) -> int:
    """The request log's row and what served the connection (its last-used time included),
    in one transaction: "Last used" is the newest request of its Requests tab, never behind."""
    duration = max(0, round((time.perf_counter() - start) * 1000))
    now = timezone.now()
    with transaction.atomic():
        RequestLog.objects.create(
            request_id=request_id,
            connection_id=connection.pk,
            action_id=action_id[:100],
            version_id=resolved.id if resolved else None,
            version_number=resolved.version if resolved else "",
            builtin=resolved.builtin if resolved else False,
            status=RequestStatus.ERROR if failure else RequestStatus.OK,
            http_status=failure.status if failure else 200,
            provider_status=failure.provider_status if failure else provider_status,
            duration_ms=duration,
            error_code=failure.code[:40] if failure else "",
            channel=channel,
            created_at=now,
        )
        if resolved is not None and connection.profile.rollout_key is not None:
            error = gate_outcome(failure.status, failure.code) if failure else False
            if error is not None:  # a staged rollout's gate counts it
                serving_count(profile=connection.profile, version_id=resolved.id, error=error)
        connection_services.connection_record_use(
            connection=connection, version_id=resolved.id if resolved else None, at=now
        )
    return duration


def request_log_prune(*, older_than: timedelta | None = None) -> int:
    """Delete request-log rows older than the retention age; the number deleted."""
    age = older_than or timedelta(days=settings.RUNTIME_REQUEST_LOG_RETENTION_DAYS)
    return request_log_prune_before(timezone.now() - age)


def request_log_prune_before(before: datetime) -> int:
    """Delete the request-log rows written before ``before``, in bounded batches (the
    scheduler's daily pruning, core/pruning.py, and ``prune_request_log``)."""
    return pruning.delete_in_batches(RequestLog.objects.filter(created_at__lt=before))


def resource_action(
    connection: Connection, project: Project, kind: str
) -> tuple[str, set[str]] | None:
    """The action the resolved definition's ``resources.<kind>`` names, and its input names
    (None: no such section or action)."""
    connection.profile.project = project
    resolved = serving_version(connection.profile, connection.public_id).resolved
    if resolved is None:
        return None
    definition = definition_of(resolved, connection.connector_id)
    resources = definition.get("resources")
    action_id = resources.get(kind) if isinstance(resources, dict) else None
    action = action_of(definition, action_id) if isinstance(action_id, str) else None
    if action is None:
        return None
    names = {i.get("name") for i in action.get("inputs") or [] if isinstance(i, dict)}
    return str(action_id), {str(n) for n in names}


def connection_refresh_now(*, actor: Actor, connection: Connection) -> None:
    """``refresh_oauth_tokens=true``: refresh before the request (502 when the endpoint fails)."""
    try:
        result = connection_refresh_tokens(actor=actor, connection=connection, force=True)
    except UpstreamError as exc:
        raise ActionFailure(502, "provider_error", exc.message) from exc
    connection.oauth_tokens = result.connection.oauth_tokens
    connection.status = result.connection.status
