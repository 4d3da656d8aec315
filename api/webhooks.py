"""Webhook endpoints and their deliveries: the "Webhooks" section of docs/api.md."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from django.http import Http404, HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from core.pager import InvalidCursor
from core.validation import Line
from events import selectors, services
from events.models import Delivery, WebhookEndpoint
from projects.services import ServiceError

from .connectors import MAX_CURSOR, _actor, _project

router = Router(tags=["webhooks"])

EventName = Annotated[Line, Field(max_length=64)]
# DeliveryStatus.values, spelled out so that the OpenAPI document lists them inline.
StatusName = Literal["pending", "retrying", "succeeded", "failed"]


class EndpointIn(Schema):
    url: Line = Field(max_length=services.URL_MAX_CHARS)
    events: list[EventName] = Field(min_length=1, max_length=services.MAX_EVENT_FILTERS)
    description: Line = Field(default="", max_length=services.DESCRIPTION_MAX_CHARS)


class EndpointPatch(Schema):
    url: Line | None = Field(default=None, max_length=services.URL_MAX_CHARS)
    events: list[EventName] | None = Field(
        default=None, min_length=1, max_length=services.MAX_EVENT_FILTERS
    )
    description: Line | None = Field(default=None, max_length=services.DESCRIPTION_MAX_CHARS)
    enabled: bool | None = None


class EndpointOut(Schema):
    id: UUID
    url: str
    events: list[str]
    description: str
    enabled: bool
    disabled_reason: str
    created_at: datetime


class EndpointCreatedOut(EndpointOut):
    secret: str


class SecretOut(Schema):
    id: UUID
    secret: str
    previous_secret_valid_until: datetime


class AcceptedOut(Schema):
    id: UUID
    status: str


class DeliveryOut(Schema):
    id: UUID
    message_id: str
    event_type: str
    status: str
    attempts: int
    last_http_status: int | None
    next_attempt_at: datetime | None
    created_at: datetime


class DeliveryPageOut(Schema):
    items: list[DeliveryOut]
    next: str | None


def endpoint_body(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.public_id,
        "url": endpoint.url,
        "events": endpoint.events,
        "description": endpoint.description,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "created_at": endpoint.created_at,
    }


def delivery_body(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.public_id,
        "message_id": delivery.event.message_id,
        "event_type": delivery.event.type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_http_status": delivery.last_http_status,
        "next_attempt_at": delivery.next_attempt_at,
        "created_at": delivery.created_at,
    }


def _endpoint(request: HttpRequest, webhook_id: UUID) -> WebhookEndpoint:
    endpoint = selectors.endpoint_of(_project(request), webhook_id)
    if endpoint is None:
        raise Http404("No such webhook endpoint in this project.")
    return endpoint


@router.get("/webhooks", response=list[EndpointOut], summary="Webhook endpoints of the project")
def webhook_list(request: HttpRequest) -> list[dict[str, Any]]:
    return [endpoint_body(e) for e in selectors.endpoints_of(_project(request))]


@router.post(
    "/webhooks",
    response={201: EndpointCreatedOut},
    summary="Add an endpoint; its secret is in this answer only",
)
def webhook_create(request: HttpRequest, payload: EndpointIn) -> Status[dict[str, Any]]:
    endpoint, secret = services.endpoint_create(
        actor=_actor(request),
        project=_project(request),
        url=payload.url,
        events=payload.events,
        description=payload.description,
    )
    return Status(201, {**endpoint_body(endpoint), "secret": secret})


@router.get("/webhooks/{webhook_id}", response=EndpointOut, summary="One endpoint")
def webhook_detail(request: HttpRequest, webhook_id: UUID) -> dict[str, Any]:
    return endpoint_body(_endpoint(request, webhook_id))


@router.patch("/webhooks/{webhook_id}", response=EndpointOut, summary="Change an endpoint")
def webhook_update(
    request: HttpRequest, webhook_id: UUID, payload: EndpointPatch
) -> dict[str, Any]:
    endpoint = services.endpoint_update(
        actor=_actor(request),
        endpoint=_endpoint(request, webhook_id),
        url=payload.url,
        events=payload.events,
        description=payload.description,
        enabled=payload.enabled,
    )
    return endpoint_body(endpoint)


@router.delete("/webhooks/{webhook_id}", response={204: None}, summary="Delete an endpoint")
def webhook_delete(request: HttpRequest, webhook_id: UUID) -> HttpResponse:
    services.endpoint_delete(actor=_actor(request), endpoint=_endpoint(request, webhook_id))
    return HttpResponse(status=204)


@router.post(
    "/webhooks/{webhook_id}/rotate_secret",
    response=SecretOut,
    summary="A new secret; the old one keeps signing beside it for 24 hours",
)
def webhook_rotate_secret(request: HttpRequest, webhook_id: UUID) -> dict[str, Any]:
    endpoint = _endpoint(request, webhook_id)
    until, secret = services.endpoint_rotate_secret(actor=_actor(request), endpoint=endpoint)
    return {"id": endpoint.public_id, "secret": secret, "previous_secret_valid_until": until}


@router.post(
    "/webhooks/{webhook_id}/test", response={202: AcceptedOut}, summary="Send webhook.test"
)
def webhook_test(request: HttpRequest, webhook_id: UUID) -> Status[dict[str, Any]]:
    event = services.endpoint_send_test(
        actor=_actor(request), endpoint=_endpoint(request, webhook_id)
    )
    return Status(202, {"id": event.public_id, "status": "queued"})


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response=DeliveryPageOut,
    summary="The endpoint's deliveries, newest first",
)
def delivery_list(
    request: HttpRequest,
    webhook_id: UUID,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size, 1–100.")] = 50,
    cursor: Annotated[Line | None, Query(max_length=MAX_CURSOR)] = None,
    status: Annotated[
        StatusName | None, Query(description="Only deliveries in this status.")
    ] = None,
) -> dict[str, Any]:
    endpoint = _endpoint(request, webhook_id)
    try:
        page = selectors.deliveries_page(
            endpoint, status=status or "", after=cursor or "", limit=limit
        )
    except InvalidCursor as exc:
        raise ServiceError(
            "The cursor is not valid; use a next value from a response.", field="cursor"
        ) from exc
    return {"items": [delivery_body(d) for d in page.items], "next": page.next}


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
    response={202: AcceptedOut},
    summary="Attempt a delivery again now",
)
def delivery_retry(
    request: HttpRequest, webhook_id: UUID, delivery_id: UUID
) -> Status[dict[str, Any]]:
    delivery = selectors.delivery_of(_endpoint(request, webhook_id), delivery_id)
    if delivery is None:
        raise Http404("No such delivery of this endpoint.")
    delivery = services.delivery_retry(actor=_actor(request), delivery=delivery)
    return Status(202, {"id": delivery.public_id, "status": delivery.status})
