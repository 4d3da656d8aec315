"""Connect sessions: the "Connect sessions" section of docs/api.md."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from connections.services import branding, connect
from core.validation import Email, Line

from .connectors import _actor, _project

router = Router(tags=["connect sessions"])


class ConnectSessionIn(Schema):
    origin_owner_id: Line = Field(min_length=1, max_length=255)
    origin_owner_name: Line = Field(default="", max_length=255)
    origin_username: Line | None = Field(default=None, max_length=255)
    email: Email | None = Field(default=None, max_length=254)
    connector_profile_id: UUID | None = None
    connector_key: Line | None = Field(default=None, max_length=64)
    account_id: UUID | None = None
    expires_in: int = Field(
        default=connect.DEFAULT_LIFETIME, ge=connect.MIN_LIFETIME, le=connect.MAX_LIFETIME
    )
    success_url: Line | None = Field(default=None, max_length=branding.MAX_URL)
    error_url: Line | None = Field(default=None, max_length=branding.MAX_URL)
    locale: Line | None = Field(default=None, max_length=10)


class ConnectSessionOut(Schema):
    token: str
    url: str
    expires_at: datetime


@router.post(
    "/connect_sessions",
    response={201: ConnectSessionOut},
    summary="Open a hosted connect page for one end user",
    description=(
        "Routes to `connector_profile_id`, or to the project's default profile for "
        "`connector_key`. With `account_id` the page re-authenticates that connection (and "
        "moves it to the session's profile when that differs). The token is single use, "
        "valid for `expires_in` seconds (default 1800, at most 432000), and shown only here. "
        "`success_url` / `error_url` (on one of the project's allowed origins, Settings → "
        "Connect pages) receive the end user afterwards with `connection_id` or `error` in "
        "the query; `locale` (en, de, fr, es, ja) picks the page's language, else the "
        "browser's Accept-Language does."
    ),
)
def connect_session_create(
    request: HttpRequest, payload: ConnectSessionIn
) -> Status[dict[str, object]]:
    created = connect.connect_session_create(
        actor=_actor(request),
        project=_project(request),
        origin_owner_id=payload.origin_owner_id,
        origin_owner_name=payload.origin_owner_name,
        origin_username=payload.origin_username or "",
        email=payload.email or "",
        connector_profile_id=payload.connector_profile_id,
        connector_key=payload.connector_key,
        account_id=payload.account_id,
        expires_in=payload.expires_in,
        success_url=payload.success_url or "",
        error_url=payload.error_url or "",
        locale=payload.locale or "",
    )
    return Status(
        201, {"token": created.token, "url": created.url, "expires_at": created.expires_at}
    )
