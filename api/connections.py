"""Connections: list with filters, sort and offsets, detail, rename, delete, health, access
grants and the organization-level role.

A project API key holds every connection of its own project as ``owner``; another project's
connection is a 404, never a 403 and never its data. Secrets never leave: secret config
values are masked (``••••1234``) and OAuth tokens are summarised (connected, expiry, scopes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from django.http import Http404, HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema
from pydantic import field_validator

from connections import rbac, selectors
from connections.models import Connection, SubjectType
from connections.services import connections as services
from connections.services import health, tokens
from core.validation import MAX_OFFSET, MAX_SEARCH, Line, text_problem
from profiles.serving import Serving, serving_version
from projects.services import ServiceError

from .auth import is_read_scoped, require_full_scope
from .connectors import _actor, _project
from .rendering import json_datetime, json_response, json_uuid

router = Router(tags=["connections"])

SortBy = Literal["created_at", "updated_at", "name"]
SortDir = Literal["asc", "desc"]
StatusName = Literal["active", "needs_reauth", "error", "disabled"]
HealthName = Literal["unknown", "healthy", "unhealthy", "needs_reauth"]
GrantRoleName = Literal["viewer", "editor", "owner"]
OrgRoleName = Literal["viewer", "editor"]
SubjectTypeName = Literal["user", "team"]

# The list's own parameters; any other parameter holding "__" is a field__operator filter.
LIST_PARAMS = frozenset(
    {
        "connector_key",
        "profile_id",
        "status",
        "health",
        "resolved_version",
        "search",
        "limit",
        "offset",
        "sort_by",
        "sort_dir",
    }
)


# --- Schemas ---------------------------------------------------------------------------------


class HealthOut(Schema):
    status: HealthName
    checked_at: datetime | None
    last_healthy_at: datetime | None
    detail: str


class OAuthOut(Schema):
    connected: bool = Field(description="Whether the connection holds an OAuth token set.")
    expires_at: datetime | None = Field(description="When the access token expires.")
    scopes: list[str]


class ServingOut(Schema):
    version: str
    builtin: bool
    rollout_id: UUID | None = Field(
        description="The staged rollout that decides it (in its cohort or not), else null."
    )


class ConnectionOut(Schema):
    id: UUID
    name: str
    connector_key: str
    profile_id: UUID
    profile_name: str
    origin_owner_id: str
    origin_owner_name: str
    origin_username: str
    email: str
    status: StatusName
    health: HealthOut
    resolved_version: str | None = Field(
        description="The version number the connection last resolved to."
    )
    serving_version: ServingOut | None = Field(
        description="The version its next request would run on (a staged rollout's cohort "
        "decides it while one runs)."
    )
    last_used_at: datetime | None
    created_at: datetime
    updated_at: datetime
    organization_role: OrgRoleName | None
    moved_from_profile_id: UUID | None
    moved_at: datetime | None
    config: dict[str, str] = Field(
        description="Config-field values; secret ones masked as “••••1234” (last 4 at most)."
    )
    oauth: OAuthOut


class ConnectionPageOut(Schema):
    items: list[ConnectionOut]
    total: int = Field(
        description="How many connections match the filters: exact when they filter only by "
        "connector, profile, status, health or version (kept as counters), and up to 10,000 "
        "with a search or field filters; above that, an estimate (see total_exact)."
    )
    total_exact: bool = Field(
        description="false when total is the database's estimate (a search or field filters "
        "that more than 10,000 connections match)."
    )
    limit: int
    offset: int


class ConnectionListQuery(Schema):
    connector_key: Line | None = Field(
        None, max_length=64, description="Only connections of this connector."
    )
    profile_id: UUID | None = Field(None, description="Only connections of this profile.")
    status: StatusName | None = None
    health: HealthName | None = None
    resolved_version: Line | None = Field(
        None,
        max_length=255,
        pattern=r"^[0-9A-Za-z.+-]+$",
        description="Only connections last resolved to this version number.",
    )
    search: Line | None = Field(
        None,
        max_length=MAX_SEARCH,
        description="Owner id, name, owner name, username or email containing this text.",
    )
    limit: int = Field(50, ge=1, le=selectors.MAX_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)
    sort_by: SortBy = "created_at"
    sort_dir: SortDir = "desc"

    @field_validator(
        "connector_key",
        "profile_id",
        "status",
        "health",
        "resolved_version",
        "search",
        mode="before",
    )
    @classmethod
    def _blank_is_absent(cls, value: Any) -> Any:
        # ``?status=&profile_id=`` means "no filter", not an invalid value.
        return None if value == "" else value


class RenameIn(Schema):
    name: Line = Field(max_length=200, description="The new display name (1–200 characters).")


class HealthCheckOut(Schema):
    status: HealthName = Field(
        description="healthy, unhealthy or needs_reauth; unknown when the connector's "
        "definition has no healthCheck (or the check cannot run), with the reason in detail."
    )
    checked_at: datetime | None
    detail: str


class GrantOut(Schema):
    subject_type: SubjectTypeName
    subject_id: UUID
    subject_name: str
    role: GrantRoleName


class RbacOut(Schema):
    organization_role: OrgRoleName | None = Field(
        description="What every member of the organization gets on this connection (null: none)."
    )
    grants: list[GrantOut]


class GrantIn(Schema):
    subject_type: SubjectTypeName
    subject_id: UUID = Field(
        description="A member's (user) or team's id in the project's organization."
    )
    role: GrantRoleName


class OrgRoleIn(Schema):
    role: OrgRoleName | None = Field(
        description="Organization-level role; null removes organization-level access."
    )


# --- Bodies ----------------------------------------------------------------------------------


def _oauth(connection: Connection) -> dict[str, Any]:
    return _oauth_of(connection.oauth_tokens, connection.token_expires_at)


def _oauth_of(oauth_tokens: str, expires_at: Any) -> dict[str, Any]:
    """The OAuth summary of the stored (encrypted) token set: connected, expiry, scopes."""
    if not oauth_tokens:
        return {"connected": False, "expires_at": None, "scopes": []}
    return {
        "connected": True,
        "expires_at": expires_at,
        "scopes": selectors.oauth_scopes(oauth_tokens),
    }


def connection_body(connection: Connection) -> dict[str, Any]:
    """One connection as the API shows it: no query when profile, connector and resolved
    version are selected with it (selectors.connections_of does)."""
    version = connection.resolved_version
    return {
        "id": connection.public_id,
        "name": connection.name,
        "connector_key": connection.connector.key,
        "profile_id": connection.profile.public_id,
        "profile_name": connection.profile.name,
        "origin_owner_id": connection.origin_owner_id,
        "origin_owner_name": connection.origin_owner_name,
        "origin_username": connection.origin_username,
        "email": connection.email,
        "status": connection.status,
        "health": {
            "status": connection.health,
            "checked_at": connection.health_checked_at,
            "last_healthy_at": connection.last_healthy_at,
            "detail": connection.health_error,
        },
        "resolved_version": version.version if version is not None else None,
        "serving_version": serving_body(serving_version(connection.profile, connection.public_id)),
        "last_used_at": connection.last_used_at,
        "created_at": connection.created_at,
        "updated_at": connection.updated_at,
        "organization_role": connection.org_role or None,
        "moved_from_profile_id": connection.moved_from_profile_public_id,  # type: ignore[attr-defined]
        "moved_at": connection.moved_at,
        "config": selectors.masked_config(connection),
        "oauth": _oauth(connection),
    }


def serving_body(serving: Serving, *, plain: bool = False) -> dict[str, Any] | None:
    resolved = serving.resolved
    if resolved is None:
        return None
    key = serving.rollout_key
    return {
        "version": resolved.version,
        "builtin": resolved.builtin,
        "rollout_id": (json_uuid(key) if plain else key) if key is not None else None,
    }


def list_item(row: dict[str, Any]) -> dict[str, Any]:
    """``connection_body`` of a row read as values (``selectors.API_ROW_VALUES``)."""
    return {
        "id": json_uuid(row["public_id"]),
        "name": row["name"],
        "connector_key": row["connector__key"],
        "profile_id": json_uuid(row["profile__public_id"]),
        "profile_name": row["profile__name"],
        "origin_owner_id": row["origin_owner_id"],
        "origin_owner_name": row["origin_owner_name"],
        "origin_username": row["origin_username"],
        "email": row["email"],
        "status": row["status"],
        "health": {
            "status": row["health"],
            "checked_at": json_datetime(row["health_checked_at"]),
            "last_healthy_at": json_datetime(row["last_healthy_at"]),
            "detail": row["health_error"],
        },
        "resolved_version": row["resolved_version__version"],
        "serving_version": serving_body(
            serving_version(row.pop("profile"), row["public_id"]), plain=True
        ),
        "last_used_at": json_datetime(row["last_used_at"]),
        "created_at": json_datetime(row["created_at"]),
        "updated_at": json_datetime(row["updated_at"]),
        "organization_role": row["org_role"] or None,
        "moved_from_profile_id": json_uuid(row["moved_from_profile__public_id"]),
        "moved_at": json_datetime(row["moved_at"]),
        "config": selectors.masked_values(row["config_values"], row["config_secrets"]),
        "oauth": _oauth_of(row["oauth_tokens"], json_datetime(row["token_expires_at"])),
    }


def rbac_body(connection: Connection) -> dict[str, Any]:
    grants = selectors.grants_of(connection)
    items = []
    for grant in grants:
        if grant.subject_type == SubjectType.USER and grant.user is not None:
            name = grant.user.get_full_name() or grant.user.get_username()
        elif grant.team is not None:
            name = grant.team.name
        else:  # pragma: no cover - the check constraint forbids it
            continue
        items.append(
            {
                "subject_type": grant.subject_type,
                "subject_id": grant.subject_public_id,  # type: ignore[attr-defined]
                "subject_name": name,
                "role": grant.role,
            }
        )
    return {"organization_role": connection.org_role or None, "grants": items}


# --- Lookups ---------------------------------------------------------------------------------


def _viewer() -> rbac.Viewer:
    # A project API key reads and manages every connection of its own project.
    return rbac.Viewer(user=None, membership=None)


def _connection(request: HttpRequest, connection_id: UUID) -> Connection:
    """A connection of the key's project (a key holds all of them as owner), else 404."""
    connection = selectors.visible_one(_viewer(), _project(request), connection_id)
    if connection is None:
        raise Http404("No such connection in this project.")
    return connection


def _field_filters(request: HttpRequest) -> dict[str, str]:
    """The ``field__operator`` parameters, through the input boundary (400 naming one)."""
    filters = {
        name: request.GET.getlist(name)[-1]
        for name in request.GET
        if "__" in name and name not in LIST_PARAMS
    }
    for name, value in filters.items():
        problem = text_problem(name, max_length=100) or text_problem(value, max_length=MAX_SEARCH)
        if problem is not None:
            raise ServiceError(f"{name} {problem}.", field=name)
    return filters


# --- Endpoints -------------------------------------------------------------------------------


@router.get(
    "/connections",
    response=ConnectionPageOut,
    summary="List connections (filters, search, sort, limit/offset)",
    description=(
        "Connections of the API key's project. Besides the named parameters, any "
        "`field__operator=value` parameter filters the list, e.g. `created_at__gte=2025-01-01T"
        "00:00:00Z`, `name__icontains=acme`, `status__in=active,error`, `last_used_at__isnull="
        "true`. Fields: "
        + ", ".join(f"`{f}`" for f in selectors.FILTER_FIELDS)
        + ". Operators: "
        + ", ".join(f"`{o}`" for o in selectors.OPERATORS)
        + " (not every operator applies to every field). An unknown field or operator, or a "
        "value of the wrong type, is a 400 naming the parameter in `fields`."
    ),
)
def connection_list(request: HttpRequest, query: Query[ConnectionListQuery]) -> HttpResponse:
    for name in ConnectionListQuery.model_fields:
        if len(request.GET.getlist(name)) > 1:  # each is one value: a repeat is not "the last"
            raise ServiceError(f"{name} is given more than once.", field=name)
    filters = selectors.Filters(
        search=query.search or "",
        connector_key=query.connector_key or "",
        profile_id=query.profile_id,
        status=query.status or "",
        health=query.health or "",
        version=query.resolved_version or "",
        fields=_field_filters(request),
        sort_by=query.sort_by,
        sort_dir=query.sort_dir,
    )
    project = _project(request)
    matching = selectors.apply_filters(selectors.visible(_viewer(), project), filters)
    total, exact = selectors.api_total(project, filters, matching)
    rows = selectors.offset_page(project, matching, filters, offset=query.offset, limit=query.limit)
    page = {
        "items": [list_item(row) for row in rows],
        "total": total,
        "total_exact": exact,
        "limit": query.limit,
        "offset": query.offset,
    }
    # Rendered here as ninja would render ConnectionPageOut (its schema documents the body):
    # validating 50 bodies through the schema cost more than everything else of the request.
    # list_item gives each value the type the schema's validation gives it (the tests compare
    # the bytes with the schema's rendering of connection_body).
    return json_response(page)


@router.get(
    "/connections/{connection_id}",
    response=ConnectionOut,
    summary="One connection",
    description=(
        "With `refresh_oauth_tokens=true` the OAuth tokens are refreshed at the token endpoint "
        "first (400 for a connection without OAuth tokens, 502 when the token endpoint fails; "
        "403 with a read-scoped key, which never triggers a refresh). Tokens themselves are "
        "never shown."
    ),
)
def connection_detail(
    request: HttpRequest, connection_id: UUID, refresh_oauth_tokens: bool = False
) -> dict[str, Any]:
    if not refresh_oauth_tokens:
        return connection_body(_connection(request, connection_id))
    require_full_scope(request, "refresh_oauth_tokens=true")
    connection = _connection(request, connection_id)
    if not connection.is_oauth:
        raise ServiceError("this connection has no OAuth tokens", field="refresh_oauth_tokens")
    tokens.connection_refresh_tokens(actor=_actor(request), connection=connection, force=True)
    return connection_body(_connection(request, connection_id))


@router.patch("/connections/{connection_id}", response=ConnectionOut, summary="Rename")
def connection_rename(
    request: HttpRequest, connection_id: UUID, payload: RenameIn
) -> dict[str, Any]:
    connection = _connection(request, connection_id)
    services.connection_rename(actor=_actor(request), connection=connection, name=payload.name)
    return connection_body(_connection(request, connection_id))


@router.delete("/connections/{connection_id}", response={204: None}, summary="Delete")
def connection_delete(request: HttpRequest, connection_id: UUID) -> HttpResponse:
    connection = _connection(request, connection_id)
    services.connection_delete(actor=_actor(request), connection=connection)
    return HttpResponse(status=204)


@router.get(
    "/connections/{connection_id}/health",
    response=HealthCheckOut,
    summary="Check the connection's health now (a read key: the last recorded result)",
    description=(
        "With a full-scope key: makes a real request to the connector's `healthCheck` path "
        "with the connection's credentials and records the outcome: a 2xx (or the expected "
        "status) is `healthy`, 401/403 `needs_reauth`, anything else, a timeout or an "
        "unreachable provider `unhealthy`. When the connector's definition has no "
        "`healthCheck` (or a credential it needs is missing) nothing is sent: the status is "
        "`unknown` and `detail` says why. With a read-scoped key nothing is sent and nothing "
        "is recorded: the answer is the last recorded result (`unknown` with `checked_at` "
        "null when the connection was never checked)."
    ),
)
def connection_health(request: HttpRequest, connection_id: UUID) -> dict[str, Any]:
    connection = _connection(request, connection_id)
    if is_read_scoped(request):
        # A read key reads: the stored outcome, no provider call, no write (no event).
        return {
            "status": connection.health,
            "checked_at": connection.health_checked_at,
            "detail": connection.health_error,
        }
    result = health.connection_check_health(actor=_actor(request), connection=connection)
    return {"status": result.status, "checked_at": result.checked_at, "detail": result.detail}


@router.get("/connections/{connection_id}/rbac", response=RbacOut, summary="Access: grants")
def rbac_detail(request: HttpRequest, connection_id: UUID) -> dict[str, Any]:
    return rbac_body(_connection(request, connection_id))


@router.put(
    "/connections/{connection_id}/rbac",
    response=RbacOut,
    summary="Give a user or team a role",
    description="Creates or changes the grant; the subject must belong to the project's "
    "organization (400 otherwise).",
)
def rbac_set(request: HttpRequest, connection_id: UUID, payload: GrantIn) -> dict[str, Any]:
    connection = _connection(request, connection_id)
    services.grant_set(
        actor=_actor(request),
        connection=connection,
        subject_type=payload.subject_type,
        subject_id=payload.subject_id,
        role=payload.role,
    )
    return rbac_body(connection)


@router.delete(
    "/connections/{connection_id}/rbac",
    response={204: None},
    summary="Remove a grant",
    description="404 when the connection has no grant for that subject.",
)
def rbac_remove(
    request: HttpRequest, connection_id: UUID, subject_type: SubjectTypeName, subject_id: UUID
) -> HttpResponse:
    connection = _connection(request, connection_id)
    services.grant_remove(
        actor=_actor(request),
        connection=connection,
        subject_type=subject_type,
        subject_id=subject_id,
    )
    return HttpResponse(status=204)


@router.patch(
    "/connections/{connection_id}/organization-role",
    response=RbacOut,
    summary="Set the organization-level role",
)
def org_role_set(request: HttpRequest, connection_id: UUID, payload: OrgRoleIn) -> dict[str, Any]:
    connection = _connection(request, connection_id)
    updated = services.connection_set_org_role(
        actor=_actor(request), connection=connection, role=payload.role
    )
    return rbac_body(updated)
