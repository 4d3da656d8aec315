"""Reads of the events app for the dashboard and the API."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db.models import Count, Q, QuerySet

from core.pager import KeysetOrder, Page, keyset_page
from projects.models import Project

from .models import Delivery, DeliveryStatus, WebhookEndpoint

DELIVERY_ORDER = KeysetOrder("created_at")


def _uuid(value: Any) -> UUID | None:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        return None


def endpoints_of(project: Project) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(project=project).order_by("created_at", "id")


def endpoints_with_counts(project: Project) -> QuerySet[WebhookEndpoint]:
    """The endpoints with how many of their deliveries failed and are open (one query)."""
    return endpoints_of(project).annotate(
        failed_count=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.FAILED)),
        open_count=Count(
            "deliveries",
            filter=Q(deliveries__status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING]),
        ),
    )


def endpoint_of(project: Project, public_id: Any) -> WebhookEndpoint | None:
    """The project's endpoint with this public id; None for a malformed or foreign id."""
    uuid = _uuid(public_id)
    if uuid is None:
        return None
    return (
        WebhookEndpoint.objects.select_related("project__organization")
        .filter(project=project, public_id=uuid)
        .first()
    )


def delivery_of(endpoint: WebhookEndpoint, public_id: Any) -> Delivery | None:
    uuid = _uuid(public_id)
    if uuid is None:
        return None
    return (
        Delivery.objects.select_related("event", "endpoint__project__organization")
        .filter(endpoint=endpoint, public_id=uuid)
        .first()
    )


def deliveries_page(
    endpoint: WebhookEndpoint,
    *,
    status: str = "",
    event_type: str = "",
    connection_id: str = "",
    after: str = "",
    before: str = "",
    limit: int = 50,
) -> Page[Delivery]:
    """Newest first, keyset-paged, filtered by status, event type and the connection an event
    names (its public id); raises core.pager.InvalidCursor for a forged cursor."""
    rows = Delivery.objects.filter(endpoint=endpoint).select_related("event")
    if status:
        rows = rows.filter(status=status)
    if event_type:
        rows = rows.filter(event__type=event_type)
    if connection_id:
        rows = rows.filter(event__data__connection_id=connection_id)
    return keyset_page(rows, DELIVERY_ORDER, after=after, before=before, limit=limit)


def failed_deliveries_count(project: Project) -> int:
    return Delivery.objects.filter(endpoint__project=project, status=DeliveryStatus.FAILED).count()


def endpoints_disabled_by_platform(project: Project) -> list[WebhookEndpoint]:
    """Endpoints the platform switched off (410 Gone, the five-day rule): the banner."""
    return list(
        WebhookEndpoint.objects.filter(project=project, enabled=False).exclude(disabled_reason="")
    )
