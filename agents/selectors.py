"""Reads for the agent tools: the connections an agent acts for, the tools each offers on the
version serving it now (with the governance applied), one profile's tools for the dashboard,
and the MCP calls of the request log."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

from django.utils import timezone

from connections import rbac
from connections.models import Connection, Status
from connections.selectors import visible
from core import freshness
from profiles.models import ConnectorProfile
from profiles.selectors import resolve_profile
from projects.models import Project
from runtime.engine import ActionFailure
from runtime.models import Channel, RequestLog
from runtime.services import definition_of

from . import tools as shapes
from .models import AgentPolicy, AgentToolSwitch
from .serving import serving_resolved

MAX_OWNER_CONNECTIONS = 50
MCP_CALLS_SHOWN = 100


@dataclass(frozen=True)
class Tool:
    """One action of a connection's serving version, as an agent sees it."""

    name: str
    connection: Connection
    connector_key: str
    action_id: str
    title: str
    description: str
    input_schema: dict[str, Any]
    read_only: bool
    destructive: bool
    enabled: bool
    version: str


@dataclass(frozen=True)
class ConnectionTools:
    connection: Connection
    version: str | None
    # Every action of the serving version, enabled or not (the MCP server lists the enabled).
    tools: list[Tool] = field(default_factory=list)
    # Why the connection offers no tools ("" when it does): its status or no version.
    unavailable: str = ""
    reason: str = ""
    calls_per_minute: int | None = None

    @property
    def enabled(self) -> list[Tool]:
        return [t for t in self.tools if t.enabled]


UNAVAILABLE: dict[str, str] = {
    Status.DISABLED: "This connection is disabled: an admin must enable it again.",
    Status.NEEDS_REAUTH: (
        "This connection needs re-authentication: its end user must reconnect the account."
    ),
}


def agent_connections(
    project: Project, *, connection_id: UUID | None = None, owner_id: str | None = None
) -> list[Connection]:
    """The connections an agent acts for: one by public id, or an end user's (at most
    ``MAX_OWNER_CONNECTIONS``, oldest first). A project key holds every connection of its
    project, as on the JSON API; another project's connection is not found."""
    rows = visible(rbac.Viewer(user=None, membership=None), project)
    if connection_id is not None:
        return list(rows.filter(public_id=connection_id)[:1])
    assert owner_id is not None
    found = rows.filter(origin_owner_id=owner_id).order_by("created_at", "id")
    return list(found[:MAX_OWNER_CONNECTIONS])


def governance_key(profile_id: int) -> str:
    return f"agents-governance:{profile_id}"


@dataclass(frozen=True)
class Governance:
    """One profile's switches (its own and its connections') and its calls-per-minute limit."""

    switches: dict[tuple[str, int, str], bool]
    calls_per_minute: int | None


def governance_of(profile_ids: Iterable[int]) -> dict[int, Governance]:
    """Each profile's governance: from this process's layer (core.freshness: valid until the
    next change anywhere moves the epoch; ``agents.services`` bumps on every write), else two
    queries for all the profiles missing."""
    found: dict[int, Governance] = {}
    missing = []
    for profile_id in set(profile_ids):
        hit = freshness.local_get(governance_key(profile_id))
        if hit is freshness.MISS:
            missing.append(profile_id)
        else:
            found[profile_id] = hit
    if not missing:
        return found
    switches: dict[int, dict[tuple[str, int, str], bool]] = {p: {} for p in missing}
    rows = AgentToolSwitch.objects.filter(profile_id__in=missing).values_list(
        "profile_id", "connection_id", "action_id", "enabled"
    )
    for profile_id, connection_id, action_id, enabled in rows:
        if connection_id is None:
            switches[profile_id][("p", profile_id, action_id)] = enabled
        else:
            switches[profile_id][("c", connection_id, action_id)] = enabled
    limits = dict(
        AgentPolicy.objects.filter(profile_id__in=missing).values_list(
            "profile_id", "calls_per_minute"
        )
    )
    for profile_id in missing:
        found[profile_id] = Governance(switches[profile_id], limits.get(profile_id))
        freshness.local_set(governance_key(profile_id), found[profile_id])
    return found


def is_enabled(
    switches: dict[tuple[str, int, str], bool],
    profile_id: int,
    connection_id: int | None,
    action: dict[str, Any],
) -> bool:
    """The connection's switch, else the profile's, else the default (read-only actions)."""
    action_id = str(action.get("actionId"))
    if connection_id is not None and ("c", connection_id, action_id) in switches:
        return switches[("c", connection_id, action_id)]
    if ("p", profile_id, action_id) in switches:
        return switches[("p", profile_id, action_id)]
    return shapes.is_read_only(action)


def _prefixes(connections: Sequence[Connection]) -> dict[int, str]:
    """Each connection's tool-name prefix: its connector's key; where one end user holds two
    connections of a connector (sandbox and production), the key and 8 hex digits of each
    connection's public id."""
    keys = [c.connector.key for c in connections]
    return {
        c.pk: c.connector.key
        if keys.count(c.connector.key) == 1
        else f"{c.connector.key}_{c.public_id.hex[:8]}"
        for c in connections
    }


def connection_tools(project: Project, connections: Sequence[Connection]) -> list[ConnectionTools]:
    """Each connection's tools on the version serving it now, the governance applied."""
    if not connections:
        return []
    governance = governance_of(c.profile_id for c in connections)
    prefixes = _prefixes(connections)
    found = []
    for connection in connections:
        rules = governance[connection.profile_id]
        limit = rules.calls_per_minute
        if connection.status in UNAVAILABLE:
            found.append(
                ConnectionTools(
                    connection,
                    None,
                    unavailable=str(connection.status),
                    reason=UNAVAILABLE[connection.status],
                    calls_per_minute=limit,
                )
            )
            continue
        resolved = serving_resolved(connection, project)
        definition = None
        if resolved is not None:
            try:
                definition = definition_of(resolved, connection.connector_id)
            except ActionFailure:
                definition = None
        if resolved is None or definition is None:
            found.append(
                ConnectionTools(
                    connection,
                    None,
                    unavailable="no_version",
                    reason="The connection's profile resolves to no version.",
                    calls_per_minute=limit,
                )
            )
            continue
        tools = [
            _tool(connection, prefixes[connection.pk], action, resolved.version, rules.switches)
            for action in _actions(definition)
        ]
        found.append(ConnectionTools(connection, resolved.version, tools, calls_per_minute=limit))
    return found


def _actions(definition: dict[str, Any]) -> Iterable[dict[str, Any]]:
    for action in definition.get("actions") or []:
        if isinstance(action, dict) and action.get("actionType") != "refresh_token":
            yield action


def _tool(
    connection: Connection,
    prefix: str,
    action: dict[str, Any],
    version: str,
    switches: dict[tuple[str, int, str], bool],
) -> Tool:
    action_id = str(action.get("actionId"))
    return Tool(
        name=shapes.tool_name(prefix, action_id),
        connection=connection,
        connector_key=connection.connector.key,
        action_id=action_id,
        title=str(action.get("label") or action_id),
        description=shapes.description(action, connection_name=connection.name, version=version),
        input_schema=shapes.input_schema(action),
        read_only=shapes.is_read_only(action),
        destructive=shapes.is_destructive(action),
        enabled=is_enabled(switches, connection.profile_id, connection.pk, action),
        version=version,
    )


def tool_named(toolsets: Sequence[ConnectionTools], name: str) -> Tool | None:
    for toolset in toolsets:
        for tool in toolset.tools:
            if tool.name == name:
                return tool
    return None


# --- The dashboard's Agent tools tab ----------------------------------------------------------


@dataclass(frozen=True)
class ProfileTool:
    action_id: str
    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    read_only: bool
    destructive: bool
    enabled: bool
    # Whether the profile has its own switch for it (else the default applies).
    switched: bool


@dataclass(frozen=True)
class ProfileTools:
    version: str | None
    tools: list[ProfileTool]
    calls_per_minute: int | None
    overrides: int  # connections with switches of their own


def profile_tools(project: Project, profile: ConnectorProfile) -> ProfileTools:
    """The actions of the version the profile resolves to now, as tools (connection-less: a
    rollout's cohort connections may be served another version) with the profile's switches."""
    profile.project = project
    resolved = resolve_profile(profile)
    switches = {
        action_id: enabled
        for action_id, enabled in AgentToolSwitch.objects.filter(
            profile=profile, connection__isnull=True
        ).values_list("action_id", "enabled")
    }
    policy = AgentPolicy.objects.filter(profile=profile).values_list("calls_per_minute", flat=True)
    overrides = (
        AgentToolSwitch.objects.filter(profile=profile, connection__isnull=False)
        .values("connection_id")
        .distinct()
        .count()
    )
    limit = policy.first()
    if resolved is None:
        return ProfileTools(None, [], limit, overrides)
    definition = definition_of(resolved, profile.connector_id)
    key = profile.connector.key
    tools = []
    for action in _actions(definition):
        action_id = str(action.get("actionId"))
        tools.append(
            ProfileTool(
                action_id=action_id,
                name=shapes.tool_name(key, action_id),
                title=str(action.get("label") or action_id),
                description=shapes.description(
                    action, connection_name="<connection name>", version=resolved.version
                ),
                input_schema=shapes.input_schema(action),
                read_only=shapes.is_read_only(action),
                destructive=shapes.is_destructive(action),
                enabled=switches.get(action_id, shapes.is_read_only(action)),
                switched=action_id in switches,
            )
        )
    return ProfileTools(resolved.version, tools, limit, overrides)


def mcp_calls(profile: ConnectorProfile, *, hours: int = 24) -> list[RequestLog]:
    """The profile's MCP tool calls of the last ``hours``, newest first (at most
    ``MCP_CALLS_SHOWN``), with each call's connection name."""
    since = timezone.now() - timedelta(hours=hours)
    return list(
        RequestLog.objects.filter(
            channel=Channel.MCP, created_at__gte=since, connection__profile=profile
        )
        .select_related("connection")
        .only(
            "request_id",
            "action_id",
            "version_number",
            "status",
            "http_status",
            "error_code",
            "channel",
            "duration_ms",
            "created_at",
            "connection__name",
            "connection__public_id",
        )[:MCP_CALLS_SHOWN]
    )
