"""The MCP server: ``tools/list`` and ``tools/call`` over the agent tools (``agents``), with
the official SDK's low-level ``Server``. The request's agent (key, project, connections) is
put in the ASGI scope by the view and read back through the SDK's request context."""

from __future__ import annotations

import json
from typing import Any

import mcp_types as types
from asgiref.sync import sync_to_async
from mcp.server import Server
from mcp.server.context import ServerRequestContext

from agents import selectors, services
from agents.selectors import ConnectionTools, Tool
from runtime.services import ActionError, ActionResult

from .auth import Agent

SCOPE_KEY = "connector_hub.agent"
META = "connectorhub"  # the _meta keys' prefix: connectorhub/<name>
TEXT_PREVIEW = 200


def _agent(ctx: ServerRequestContext[Any]) -> Agent:
    request = ctx.request
    agent = request.scope.get(SCOPE_KEY) if request is not None else None
    if not isinstance(agent, Agent):  # never: the view always sets it
        raise RuntimeError("The MCP request reached the server without its agent.")
    return agent


def _toolsets(agent: Agent) -> list[ConnectionTools]:
    return selectors.connection_tools(agent.project, agent.connections)


def _mcp_tool(tool: Tool) -> types.Tool:
    return types.Tool(
        name=tool.name,
        title=tool.title,
        description=tool.description,
        input_schema=tool.input_schema,
        annotations=types.ToolAnnotations(
            title=tool.title,
            read_only_hint=tool.read_only,
            destructive_hint=tool.destructive,
            open_world_hint=True,
        ),
        _meta={
            f"{META}/connection_id": str(tool.connection.public_id),
            f"{META}/connector": tool.connector_key,
            f"{META}/action_id": tool.action_id,
            f"{META}/version": tool.version,
        },
    )


def list_result(toolsets: list[ConnectionTools]) -> types.ListToolsResult:
    """The enabled tools of every connection; ``_meta`` says which version serves each
    connection, and why one lists no tools."""
    connections = []
    tools: list[types.Tool] = []
    for toolset in toolsets:
        enabled = toolset.enabled
        tools += [_mcp_tool(t) for t in enabled]
        entry: dict[str, Any] = {
            "connection_id": str(toolset.connection.public_id),
            "connector": toolset.connection.connector.key,
            "name": toolset.connection.name,
            "version": toolset.version,
            "tools": len(enabled),
            "not_enabled": len(toolset.tools) - len(enabled),
        }
        if toolset.unavailable:
            entry["unavailable"] = toolset.unavailable
            entry["reason"] = toolset.reason
        connections.append(entry)
    return types.ListToolsResult(tools=tools, _meta={f"{META}/connections": connections})


async def on_list_tools(
    ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    toolsets = await sync_to_async(_toolsets)(_agent(ctx))
    return list_result(toolsets)


def _error(code: str, message: str, **extra: Any) -> types.CallToolResult:
    error = {"code": code, "message": message, **{k: v for k, v in extra.items() if v is not None}}
    return types.CallToolResult(
        content=[types.TextContent(text=f"Error {code}: {message}")],
        structured_content={"error": error},
        is_error=True,
    )


def _summary(result: ActionResult) -> str:
    data = result.data
    if isinstance(data, list):
        what = f"{len(data)} record{'s' if len(data) != 1 else ''}"
    else:
        what = json.dumps(data, default=str, ensure_ascii=False)
        if len(what) > TEXT_PREVIEW:
            what = what[:TEXT_PREVIEW] + "…"
    more = "; more with the cursor in structuredContent.next" if result.next else ""
    return f"{result.action_id} on version {result.version}: {what}{more}."


def call(agent: Agent, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
    toolsets = _toolsets(agent)
    tool = selectors.tool_named(toolsets, name)
    if tool is None:
        for toolset in toolsets:
            prefix = toolset.connection.connector.key
            if toolset.unavailable and name.startswith(prefix):
                return _error(toolset.unavailable, toolset.reason)
        return _error("unknown_tool", f"No tool {name!r} for this connection; list the tools.")
    limit = next(t.calls_per_minute for t in toolsets if t.connection.pk == tool.connection.pk)
    try:
        result = services.tool_call(
            actor=agent.actor,
            project=agent.project,
            tool=tool,
            arguments=arguments,
            calls_per_minute=limit,
        )
    except services.Refused as refused:
        status = 429 if refused.code == "rate_limited" else 403
        return _error(refused.code, refused.message, status=status, retry_after=refused.retry_after)
    except ActionError as failure:
        return _error(
            failure.code,
            failure.message,
            status=failure.status,
            provider_status=failure.provider_status,
            fields=failure.fields or None,
            version=failure.version,
            request_id=str(failure.request_id),
        )
    return types.CallToolResult(
        content=[types.TextContent(text=_summary(result))],
        structured_content={
            "data": result.data,
            "next": result.next,
            "version": result.version,
            "request_id": str(result.request_id),
            "duration_ms": result.duration_ms,
        },
        _meta={f"{META}/version": result.version, f"{META}/request_id": str(result.request_id)},
    )


async def on_call_tool(
    ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
) -> types.CallToolResult:
    return await sync_to_async(call)(_agent(ctx), params.name, dict(params.arguments or {}))


SERVER: Server[Any] = Server(
    "connector-hub",
    title="Connector Hub",
    instructions=(
        "Each tool is an action of one of the end user's connected accounts, on the connector "
        "version that serves that connection now. Tool names are <connector>__<action>."
    ),
    on_list_tools=on_list_tools,
    on_call_tool=on_call_tool,
)
