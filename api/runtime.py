"""Requests through a connection (docs/api.md "Connections": actions and resources): run
an action, the request log, and seed 002's resources through the actions a definition's
``resources`` section names. The connection's profile is resolved at the moment of each request."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from django.http import HttpRequest
from ninja import Field, Path, Query, Router, Schema

from connections.models import Connection
from core.pager import InvalidCursor
from core.validation import Line
from projects.services import ServiceError
from runtime import selectors, services
from runtime.engine import ActionFailure

from .auth import require_full_scope
from .connections import _connection
from .connectors import _actor, _project

router = Router(tags=["actions and resources"])

MAX_RESOURCE_IDS = 50
ActionPath = Annotated[Line, Path(max_length=100)]
ResourceIds = Annotated[
    list[Annotated[Line, Field(max_length=1000)]],
    Query(..., min_length=1, max_length=MAX_RESOURCE_IDS),
]


class ActionIn(Schema):
    inputs: dict[str, Any] = Field(
        default_factory=dict, description="The action's inputs by name (see its definition)."
    )


class ActionOut(Schema):
    data: Any = Field(description="The action's result (its definition's `result.data`).")
    next: Any = Field(description="The cursor of the next page, or null.")
    action_id: str
    version: str = Field(description="The version that served this request.")
    builtin: bool
    provider_status: int | None
    duration_ms: int
    request_id: UUID


class RequestOut(Schema):
    request_id: UUID
    action_id: str
    version: str
    builtin: bool
    status: Literal["ok", "error"]
    http_status: int
    provider_status: int | None
    duration_ms: int
    created_at: datetime
    error: str | None = Field(description="The error code of a failed request.")
    channel: Literal["api", "mcp"] = Field(
        description="`api` (this API, Try it) or `mcp` (an AI agent's tool call over /mcp)."
    )


class RequestPageOut(Schema):
    items: list[RequestOut]
    next: str | None


class RequestsQuery(Schema):
    limit: int = Field(50, ge=1, le=selectors.MAX_LIMIT)
    cursor: Line | None = Field(None, max_length=200)


class ResourcesOut(Schema):
    items: list[Any]


class ResourcePageOut(Schema):
    items: list[Any]
    next_cursor: str | None


REFRESH_DESCRIPTION = (
    "Refresh the connection's OAuth tokens first (403 with a read-scoped key: a read key "
    "never triggers a refresh)."
)


class ChildrenQuery(Schema):
    resource_id: Line | None = Field(None, max_length=1000)
    cursor: Line | None = Field(None, max_length=1000)
    page_size: int = Field(50, ge=1, le=1000)
    refresh_oauth_tokens: bool = Field(False, description=REFRESH_DESCRIPTION)


class SearchQuery(Schema):
    query: Line = Field(max_length=500)
    cursor: Line | None = Field(None, max_length=1000)
    page_size: int = Field(50, ge=1, le=1000)
    refresh_oauth_tokens: bool = Field(False, description=REFRESH_DESCRIPTION)


def action_body(result: services.ActionResult) -> dict[str, Any]:
    return {
        "data": result.data,
        "next": result.next,
        "action_id": result.action_id,
        "version": result.version,
        "builtin": result.builtin,
        "provider_status": result.provider_status,
        "duration_ms": result.duration_ms,
        "request_id": result.request_id,
    }


def _run(
    request: HttpRequest, connection: Connection, action_id: str, inputs: dict[str, Any]
) -> services.ActionResult:
    return services.action_run(
        actor=_actor(request),
        project=_project(request),
        connection=connection,
        action_id=action_id,
        inputs=inputs,
    )


@router.post(
    "/connections/{connection_id}/actions/{action_id}",
    response=ActionOut,
    summary="Run an action through the connection",
    description=(
        "Resolves the connection's profile now and runs that version's action with the "
        "connection's credentials; `version` says which version served it. 400 "
        "`invalid_inputs` (`fields`: `inputs.<name>`), 404 `action_not_found`, 409 "
        "`connection_disabled` or `needs_reauth` (after one token refresh for OAuth 2; the "
        "connection's status changes), 502 `provider_error` with `provider_status` (or the "
        "definition's `customErrors` status), 504 `provider_timeout`, 422 "
        "`expression_budget_exceeded` (the definition's expressions went over their budget: "
        "CPU time or steps; recorded in the request log) or `refused` (a header the request "
        "would send cannot be sent). A secret of the connection is never in the answer: one "
        "the provider echoes is masked as `••••`."
    ),
)
def action_run(
    request: HttpRequest,
    connection_id: UUID,
    action_id: ActionPath,
    payload: ActionIn | None = None,
) -> dict[str, Any]:
    connection = _connection(request, connection_id)
    inputs = payload.inputs if payload is not None else {}
    return action_body(_run(request, connection, action_id, inputs))


@router.get(
    "/connections/{connection_id}/requests",
    response=RequestPageOut,
    summary="The connection's request log (newest first)",
    description="Metadata only: no inputs, no response bodies, no credentials.",
)
def request_list(
    request: HttpRequest, connection_id: UUID, query: Query[RequestsQuery]
) -> dict[str, Any]:
    connection = _connection(request, connection_id)
    try:
        page = selectors.requests_page(connection, limit=query.limit, after=query.cursor or "")
    except InvalidCursor as exc:
        raise ServiceError("This cursor was not made by this list.", field="cursor") from exc
    return {
        "items": [
            {
                "request_id": row.request_id,
                "action_id": row.action_id,
                "version": row.version_number,
                "builtin": row.builtin,
                "status": row.status,
                "http_status": row.http_status,
                "provider_status": row.provider_status,
                "duration_ms": row.duration_ms,
                "created_at": row.created_at,
                "error": row.error_code or None,
                "channel": row.channel,
            }
            for row in page.items
        ],
        "next": page.next,
    }


def _resource_action(
    request: HttpRequest, connection: Connection, kind: str
) -> tuple[str, set[str]]:
    found = services.resource_action(connection, _project(request), kind)
    if found is None:
        raise ActionFailure(
            404, "not_supported", f"This connector's definition names no {kind} resource action."
        )
    return found


def _inputs(names: set[str], **values: Any) -> dict[str, Any]:
    """The values the resource action declares as inputs (absent ones left out)."""
    return {k: v for k, v in values.items() if k in names and v not in (None, "")}


def _refresh_first(request: HttpRequest, connection: Connection, refresh: bool) -> None:
    if refresh and connection.is_oauth:
        services.connection_refresh_now(actor=_actor(request), connection=connection)


def _full_key_runs_actions(request: HttpRequest) -> None:
    """A resources endpoint runs the definition's actions through the provider, which may
    refresh a token, mark the connection needs_reauth and writes a request-log row: a read
    key, which never triggers a refresh or a write, gets 403 (docs/api.md)."""
    require_full_scope(request, "running the resources' actions through the provider")


def _records(data: Any) -> list[Any]:
    if isinstance(data, list):
        return data
    return [] if data is None else [data]


@router.get(
    "/connections/{connection_id}/resources",
    response=ResourcesOut,
    summary="Resources by id (seed 002)",
    description=(
        "Runs the definition's `resources.get` action once per id (at most "
        f"{MAX_RESOURCE_IDS}). 404 `not_supported` without a `resources` section. "
        "403 with a read-scoped key: it runs actions through the provider."
    ),
)
def resources_get(
    request: HttpRequest,
    connection_id: UUID,
    resource_ids: ResourceIds,
    refresh_oauth_tokens: Annotated[bool, Query(description=REFRESH_DESCRIPTION)] = False,
) -> dict[str, Any]:
    if refresh_oauth_tokens:
        require_full_scope(request, "refresh_oauth_tokens=true")
    _full_key_runs_actions(request)
    connection = _connection(request, connection_id)
    action_id, names = _resource_action(request, connection, "get")
    _refresh_first(request, connection, refresh_oauth_tokens)
    items: list[Any] = []
    for resource_id in resource_ids:
        inputs = _inputs(names, resource_id=resource_id)
        items += _records(_run(request, connection, action_id, inputs).data)
    return {"items": items}


@router.get(
    "/connections/{connection_id}/resources/children",
    response=ResourcePageOut,
    summary="Children of a resource (seed 002)",
    description=(
        "Runs the definition's `resources.children` action (no `resource_id`: the root). "
        "403 with a read-scoped key: it runs actions through the provider."
    ),
)
def resources_children(
    request: HttpRequest, connection_id: UUID, query: Query[ChildrenQuery]
) -> dict[str, Any]:
    return _resource_page(
        request,
        connection_id,
        "children",
        query.refresh_oauth_tokens,
        resource_id=query.resource_id,
        cursor=query.cursor,
        page_size=query.page_size,
    )


@router.get(
    "/connections/{connection_id}/resources/search",
    response=ResourcePageOut,
    summary="Search resources (seed 002)",
    description=(
        "Runs the definition's `resources.search` action. "
        "403 with a read-scoped key: it runs actions through the provider."
    ),
)
def resources_search(
    request: HttpRequest, connection_id: UUID, query: Query[SearchQuery]
) -> dict[str, Any]:
    return _resource_page(
        request,
        connection_id,
        "search",
        query.refresh_oauth_tokens,
        query=query.query,
        cursor=query.cursor,
        page_size=query.page_size,
    )


def _resource_page(
    request: HttpRequest, connection_id: UUID, kind: str, refresh: bool, **given: Any
) -> dict[str, Any]:
    """One page of the definition's ``resources.<kind>`` action (children, search)."""
    if refresh:
        require_full_scope(request, "refresh_oauth_tokens=true")
    _full_key_runs_actions(request)
    connection = _connection(request, connection_id)
    action_id, names = _resource_action(request, connection, kind)
    _refresh_first(request, connection, refresh)
    result = _run(request, connection, action_id, _inputs(names, **given))
    return {"items": _records(result.data), "next_cursor": _cursor(result.next)}


def _cursor(value: Any) -> str | None:
    return None if value in (None, "") else str(value)
