"""Writes and the tool call of the agent tools: switching an action on or off for agents
(per profile or per connection, audited), the calls-per-minute limit (audited), and running a
tool through the runtime's shared service (``runtime.services.action_run``: the same inputs
check, secret masking, budgets, deadlines and request log as ``POST …/actions/{actionId}``),
marked ``channel=mcp``."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import transaction

from connections.models import Connection
from connectors.definition_schema import ACTION_ID_PATTERN
from core import freshness
from profiles.models import ConnectorProfile
from projects.models import Project
from projects.services import Actor, ServiceError, audit_record
from runtime.models import Channel
from runtime.services import ActionResult, action_run

from .models import AgentPolicy, AgentToolSwitch
from .selectors import Tool, governance_key

MAX_CALLS_PER_MINUTE = 100_000


@dataclass(frozen=True)
class Refused(Exception):
    """A tool call refused before it ran (not enabled, over the limit)."""

    code: str
    message: str
    retry_after: int | None = None


def _governance_changed(profile: ConnectorProfile) -> None:
    """Every process reads the profile's governance again: bump now (this transaction reads
    its own writes) and once it commits (as connectors.cache.versions_changed does)."""
    key = governance_key(profile.pk)
    freshness.bump(key)
    transaction.on_commit(lambda: freshness.bump(key), robust=True)


def tool_switch_set(
    *,
    actor: Actor,
    project: Project,
    profile: ConnectorProfile,
    action_id: str,
    enabled: bool,
    connection: Connection | None = None,
) -> AgentToolSwitch:
    """Enable or disable ``action_id`` for agents on the profile, or on one of its
    connections (overriding the profile). Audited with before → after."""
    if not isinstance(action_id, str) or not re.fullmatch(ACTION_ID_PATTERN, action_id):
        raise ServiceError("That is not an action id.", field="action_id")
    if profile.project_id != project.pk:
        raise ServiceError("No such profile in this project.", field="profile")
    if connection is not None and connection.profile_id != profile.pk:
        raise ServiceError("That connection is not on this profile.", field="connection")
    with transaction.atomic():
        switch, created = AgentToolSwitch.objects.select_for_update().get_or_create(
            profile=profile,
            connection=connection,
            action_id=action_id,
            defaults={"enabled": enabled},
        )
        before = None if created else {"enabled": switch.enabled}
        if not created and switch.enabled != enabled:
            switch.enabled = enabled
            switch.save(update_fields=["enabled", "updated_at"])
        audit_record(
            actor=actor,
            organization=project.organization,
            project=project,
            action="agent_tool.enable" if enabled else "agent_tool.disable",
            target=connection if connection is not None else profile,
            before=before,
            after={"action_id": action_id, "enabled": enabled},
        )
        _governance_changed(profile)
    return switch


def calls_limit_set(
    *, actor: Actor, project: Project, profile: ConnectorProfile, calls_per_minute: int | None
) -> AgentPolicy:
    """The profile's calls-per-minute limit per connection (None: no limit). Audited."""
    if calls_per_minute is not None and not (1 <= calls_per_minute <= MAX_CALLS_PER_MINUTE):
        raise ServiceError(
            f"The limit is a number of calls from 1 to {MAX_CALLS_PER_MINUTE:,}, or empty.",
            field="calls_per_minute",
        )
    if profile.project_id != project.pk:
        raise ServiceError("No such profile in this project.", field="profile")
    with transaction.atomic():
        policy, _ = AgentPolicy.objects.select_for_update().get_or_create(profile=profile)
        before = policy.calls_per_minute
        policy.calls_per_minute = calls_per_minute
        policy.save(update_fields=["calls_per_minute", "updated_at"])
        audit_record(
            actor=actor,
            organization=project.organization,
            project=project,
            action="agent_tool.limit",
            target=profile,
            before={"calls_per_minute": before},
            after={"calls_per_minute": calls_per_minute},
        )
        _governance_changed(profile)
    return policy


def call_admit(connection: Connection, calls_per_minute: int | None) -> int | None:
    """Count one call of the connection in this minute's window (the shared cache: Redis
    where configured, so every app server counts together); over the limit → the seconds
    until the window ends, else None."""
    if calls_per_minute is None:
        return None
    now = time.time()
    window = int(now // 60)
    key = f"agents:calls:{connection.pk}:{window}"
    cache.add(key, 0, timeout=120)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=120)
        count = 1
    if count > calls_per_minute:
        return max(1, int((window + 1) * 60 - now + 0.999))
    return None


def tool_call(
    *,
    actor: Actor,
    project: Project,
    tool: Tool,
    arguments: dict[str, Any],
    calls_per_minute: int | None,
) -> ActionResult:
    """Run the tool's action through the runtime, if agents may call it and the connection is
    within its limit; raises ``Refused`` or the runtime's ``ActionError``."""
    if not tool.enabled:
        raise Refused(
            "tool_not_enabled",
            f"{tool.name} changes data in the connected account; an admin has not enabled it "
            "for agents on this connection's profile.",
        )
    retry_after = call_admit(tool.connection, calls_per_minute)
    if retry_after is not None:
        raise Refused(
            "rate_limited",
            f"This connection allows {calls_per_minute} tool calls per minute; "
            f"retry in {retry_after} s.",
            retry_after=retry_after,
        )
    return action_run(
        actor=actor,
        project=project,
        connection=tool.connection,
        action_id=tool.action_id,
        inputs=arguments,
        channel=Channel.MCP,
    )
