"""Connections without the hosted page (docs/api.md "Connections"): what can be connected, and
creating or replacing a connection's credentials directly (imported from another platform),
optionally verified with the definition's health check. Nothing is stored on a refusal."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.http import Http404, HttpRequest
from ninja import Field, Router, Schema, Status

from connections.services import imports
from core.validation import Line
from profiles.models import ConnectorProfile
from profiles.selectors import available_to_connect, profiles_of
from projects.services import ServiceError

from .connections import ConnectionOut, _connection, connection_body, router
from .connectors import _actor, _project

# On the connections router: POST /connections and PUT /connections/{id} share their paths
# with the list and the detail (one URL pattern per path). /connections/available has a
# router of its own, added before the connections router so that its path wins over
# /connections/{connection_id}.
available_router = Router(tags=["connections"])


class ProfileBrief(Schema):
    id: UUID
    name: str
    is_default: bool
    resolved_version: str | None


class ConfigFieldOut(Schema):
    key: str
    label: str
    type: str
    required: bool
    secret: bool
    placeholder: str
    tooltip: str


class AvailableOut(Schema):
    connector_key: str
    title: str
    icon: str
    auth_type: str
    profiles: list[ProfileBrief]
    config_fields: list[ConfigFieldOut]


class TokensIn(Schema):
    access_token: Line = Field(min_length=1, max_length=imports.MAX_TOKEN)
    refresh_token: Line | None = Field(None, max_length=imports.MAX_TOKEN)
    expires_at: datetime | None = Field(None, description="When the access token expires.")
    scopes: list[Line] | None = Field(None, max_length=100)


class ReplaceIn(Schema):
    name: Line | None = Field(None, min_length=1, max_length=200)
    config: dict[str, Any] | None = Field(
        None, description="Values by configFields key (all of them: this replaces the config)."
    )
    oauth_tokens: TokensIn | None = None
    verify: bool = Field(
        False, description="Run the definition's health check first; 422 when it refuses."
    )


class ImportIn(ReplaceIn):
    connector_profile_id: UUID | None = None
    connector_key: Line | None = Field(
        None, max_length=64, description="The project's default profile of this connector."
    )
    origin_owner_id: Line = Field(min_length=1, max_length=255)
    origin_owner_name: Line = Field("", max_length=255)
    origin_username: Line = Field("", max_length=255)
    email: Line = Field("", max_length=254)


def _tokens(payload: ReplaceIn) -> imports.ImportedTokens | None:
    tokens = payload.oauth_tokens
    if tokens is None:
        return None
    return imports.ImportedTokens(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_at=imports.expiry_seconds(tokens.expires_at),
        scopes=list(tokens.scopes) if tokens.scopes else None,
    )


def _profile(request: HttpRequest, payload: ImportIn) -> ConnectorProfile:
    project = _project(request)
    rows = profiles_of(project)
    if payload.connector_profile_id is not None:
        profile = rows.filter(public_id=payload.connector_profile_id).first()
        if profile is None:
            raise Http404("No such connector profile in this project.")
        return profile
    if payload.connector_key:
        profiles = list(rows.filter(connector__key=payload.connector_key).order_by("-is_default"))
        if not profiles:
            raise Http404(f"No profile of “{payload.connector_key}” in this project.")
        return profiles[0]
    raise ServiceError("Give connector_profile_id or connector_key.", field="connector_profile_id")


@available_router.get(
    "/connections/available",
    response=list[AvailableOut],
    summary="What an end user of this project can connect",
)
def connections_available(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {
            "connector_key": item.connector_key,
            "title": item.title,
            "icon": item.icon,
            "auth_type": item.auth_type,
            "profiles": [
                {
                    "id": profile.public_id,
                    "name": profile.name,
                    "is_default": profile.is_default,
                    "resolved_version": resolved.version if resolved else None,
                }
                for profile, resolved in item.profiles
            ],
            "config_fields": [
                {
                    "key": str(f.get("key")),
                    "label": str(f.get("label") or f.get("key")),
                    "type": str(f.get("type") or "string"),
                    "required": bool(f.get("required")),
                    "secret": bool(f.get("secret")),
                    "placeholder": str(f.get("placeholder") or ""),
                    "tooltip": str(f.get("tooltip") or ""),
                }
                for f in item.config_fields
            ],
        }
        for item in available_to_connect(_project(request))
    ]


@router.post(
    "/connections",
    response={201: ConnectionOut},
    summary="Create a connection with existing credentials",
    description=(
        "Imports credentials (config values, OAuth tokens) without the hosted page. 400 with "
        "`fields` (`config.<key>`) for a missing required, unknown or mistyped field; 422 "
        "`credentials_rejected` when `verify` is true and the health check refuses them. "
        "Nothing is stored on any refusal."
    ),
)
def connection_import(request: HttpRequest, payload: ImportIn) -> Status[dict[str, Any]]:
    connection = imports.connection_import(
        actor=_actor(request),
        profile=_profile(request, payload),
        origin_owner_id=payload.origin_owner_id,
        origin_owner_name=payload.origin_owner_name,
        origin_username=payload.origin_username,
        email=payload.email,
        name=payload.name or "",
        config=dict(payload.config or {}),
        oauth_tokens=_tokens(payload),
        verify=payload.verify,
    )
    return Status(201, connection_body(_connection(request, connection.public_id)))


@router.put(
    "/connections/{connection_id}",
    response=ConnectionOut,
    summary="Replace a connection's name, config and/or tokens",
    description="The same body and rules as POST /connections (the profile does not change).",
)
def connection_replace(
    request: HttpRequest, connection_id: UUID, payload: ReplaceIn
) -> dict[str, Any]:
    connection = _connection(request, connection_id)
    imports.connection_replace_credentials(
        actor=_actor(request),
        connection=connection,
        name=payload.name,
        config=dict(payload.config) if payload.config is not None else None,
        oauth_tokens=_tokens(payload),
        verify=payload.verify,
    )
    return connection_body(_connection(request, connection_id))
