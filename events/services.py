"""Writes of the events app: record an event (the outbox), manage webhook endpoints, attempt
deliveries. Every endpoint change is audited; no secret reaches an event, a log or an audit
entry.

Delivery follows the Standard Webhooks specification through the ``standardwebhooks``
library: ``webhook-id`` (the event's, stable across retries), ``webhook-timestamp`` and
``webhook-signature`` (two signatures while a rotated-out secret is still valid).
"""

from __future__ import annotations

import base64
import json
import logging
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.tasks import task_backends
from django.utils import timezone
from standardwebhooks import Webhook

from core.outbound import DestinationRefused, check_destination, guarded_request
from core.tasks import enqueue_on_commit
from core.validation import text_problem
from projects.crypto import decrypt_text, encrypt_text
from projects.models import Project
from projects.services import Actor, ConflictError, ServiceError, audit_record

from .models import ALL_EVENTS, EVENT_TYPES, Delivery, DeliveryStatus, Event, WebhookEndpoint

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24
# The old secret keeps signing beside the new one this long after a rotation.
ROTATION_OVERLAP = timedelta(hours=24)
# Waits before the 2nd, 3rd, ... attempt (about 27.6 hours in all); then the delivery failed.
RETRY_SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
JITTER = 0.1  # each wait is stretched or shrunk by up to 10 %
_jitter = random.Random()  # its own state: retries never disturb the global generator
# An endpoint whose every attempt failed for this long is disabled.
FAILING_LIMIT = timedelta(days=5)
URL_MAX_CHARS = 2000
DESCRIPTION_MAX_CHARS = 200
MAX_EVENT_FILTERS = len(EVENT_TYPES)
USER_AGENT = "ConnectorHub-Webhooks/1"


# --- The outbox ---------------------------------------------------------------------------------


def event_record(*, project: Project, type: str, data: dict[str, Any]) -> Event:
    """Record an event in the caller's transaction; once it commits, a task turns the event
    into deliveries. A rolled-back change therefore announces nothing. ``data`` holds ids and
    non-secret fields only (JSON values)."""
    if type not in EVENT_TYPES:
        raise ValueError(f"Unknown event type {type!r}.")
    event = Event.objects.create(project=project, type=type, data=data)
    _dispatch_on_commit(event.pk)
    return event


def _dispatch_on_commit(event_id: int) -> None:
    enqueue_on_commit("events.tasks.dispatch_event", event_id, robust=True)


def event_dispatch(event_id: int) -> list[int]:
    """One delivery per enabled endpoint of the event's project that wants its type (a test
    event: its endpoint only); returns the new deliveries' ids, each to be attempted by its
    own task. Idempotent: a second call finds the event dispatched."""
    now = timezone.now()
    with transaction.atomic():
        event = (
            Event.objects.select_for_update()
            .filter(pk=event_id, dispatched_at__isnull=True)
            .first()
        )
        if event is None:
            return []
        if event.endpoint_id is not None:
            endpoints = list(WebhookEndpoint.objects.filter(pk=event.endpoint_id, enabled=True))
        else:
            endpoints = [
                e
                for e in WebhookEndpoint.objects.filter(project_id=event.project_id, enabled=True)
                if e.accepts(event.type)
            ]
        Delivery.objects.bulk_create(
            [Delivery(endpoint=e, event=event, next_attempt_at=now) for e in endpoints],
            ignore_conflicts=True,
        )
        event.dispatched_at = now
        event.save(update_fields=["dispatched_at"])
        ids = list(
            Delivery.objects.filter(event=event, status=DeliveryStatus.PENDING).values_list(
                "pk", flat=True
            )
        )
    return ids


# --- Endpoints ----------------------------------------------------------------------------------


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _checked_url(url: str) -> str:
    url = url.strip()
    if not url:
        raise ServiceError("Give the endpoint's URL.", field="url")
    problem = text_problem(url, max_length=URL_MAX_CHARS)
    if problem is not None:
        raise ServiceError(f"The URL {problem}.", field="url")
    try:
        check_destination(url, what="webhook endpoint")
    except DestinationRefused as exc:
        raise ServiceError(exc.message, field="url") from exc
    return url


def _checked_events(events: list[str]) -> list[str]:
    if not events:
        raise ServiceError('Choose at least one event type, or "*" for all.', field="events")
    if len(events) > MAX_EVENT_FILTERS:
        raise ServiceError(f"At most {MAX_EVENT_FILTERS} event types.", field="events")
    unknown = [e for e in events if e != ALL_EVENTS and e not in EVENT_TYPES]
    if unknown:
        raise ServiceError(
            f"Unknown event type “{unknown[0][:64]}”; use one of {', '.join(EVENT_TYPES)} or *.",
            field="events",
        )
    if ALL_EVENTS in events:
        return [ALL_EVENTS]
    return [e for e in EVENT_TYPES if e in events]  # the documented order, each once


def _checked_description(description: str) -> str:
    description = description.strip()
    problem = text_problem(description, max_length=DESCRIPTION_MAX_CHARS)
    if problem is not None:
        raise ServiceError(f"The description {problem}.", field="description")
    return description


def _state(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "url": endpoint.url,
        "events": endpoint.events,
        "description": endpoint.description,
        "enabled": endpoint.enabled,
    }


def _audit(
    actor: Actor,
    endpoint: WebhookEndpoint,
    action: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    audit_record(
        actor=actor,
        organization=endpoint.project.organization,
        project=endpoint.project,
        action=action,
        target=endpoint,
        before=before,
        after=after,
    )


@transaction.atomic
def endpoint_create(
    *, actor: Actor, project: Project, url: str, events: list[str], description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """A new enabled endpoint and its ``whsec_`` secret (returned once, stored encrypted)."""
    secret = new_secret()
    endpoint = WebhookEndpoint.objects.create(
        project=project,
        url=_checked_url(url),
        events=_checked_events(events),
        description=_checked_description(description),
        secret=encrypt_text(secret),
    )
    _audit(actor, endpoint, "webhook.created", after=_state(endpoint))
    return endpoint, secret


def _locked(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    return (
        WebhookEndpoint.objects.select_for_update(of=("self",))
        .select_related("project__organization")
        .get(pk=endpoint.pk)
    )


@transaction.atomic
def endpoint_update(
    *,
    actor: Actor,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    events: list[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    """Change what is given. Re-enabling clears why the platform had disabled it."""
    endpoint = _locked(endpoint)
    before = _state(endpoint)
    if url is not None:
        endpoint.url = _checked_url(url)
    if events is not None:
        endpoint.events = _checked_events(events)
    if description is not None:
        endpoint.description = _checked_description(description)
    if enabled is not None and enabled != endpoint.enabled:
        endpoint.enabled = enabled
        endpoint.disabled_at = None if enabled else timezone.now()
        endpoint.disabled_reason = ""
        endpoint.failing_since = None
    after = _state(endpoint)
    if after == before:
        return endpoint
    endpoint.save()
    _audit(
        actor,
        endpoint,
        "webhook.updated",
        before={k: v for k, v in before.items() if after[k] != v},
        after={k: v for k, v in after.items() if before[k] != v},
    )
    return endpoint


@transaction.atomic
def endpoint_delete(*, actor: Actor, endpoint: WebhookEndpoint) -> None:
    endpoint = _locked(endpoint)
    _audit(actor, endpoint, "webhook.deleted", before=_state(endpoint))
    endpoint.delete()


@transaction.atomic
def endpoint_rotate_secret(*, actor: Actor, endpoint: WebhookEndpoint) -> tuple[datetime, str]:
    """A new secret (returned once); the current one keeps signing beside it for 24 hours.
    Returns until when the old one signs, and the new secret."""
    endpoint = _locked(endpoint)
    secret = new_secret()
    until = timezone.now() + ROTATION_OVERLAP
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = until
    endpoint.secret = encrypt_text(secret)
    endpoint.save(
        update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"]
    )
    _audit(actor, endpoint, "webhook.secret_rotated", after={"old_secret_valid_until": str(until)})
    return until, secret


@transaction.atomic
def endpoint_send_test(*, actor: Actor, endpoint: WebhookEndpoint) -> Event:
    """Record a ``webhook.test`` event for this endpoint alone (it must be enabled)."""
    endpoint = _locked(endpoint)
    if not endpoint.enabled:
        raise ConflictError("The endpoint is disabled; enable it to send a test event.")
    event = Event.objects.create(
        project=endpoint.project,
        type="webhook.test",
        endpoint=endpoint,
        data={"endpoint_id": str(endpoint.public_id), "sent_by": actor.label},
    )
    _audit(actor, endpoint, "webhook.test_sent", after={"event": str(event.public_id)})
    _dispatch_on_commit(event.pk)
    return event


def _disable(endpoint: WebhookEndpoint, reason: str, now: datetime) -> None:
    """The platform disables an endpoint (410 Gone, the five-day rule): audited, shown."""
    endpoint.enabled = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = reason[:200]
    endpoint.save(update_fields=["enabled", "disabled_at", "disabled_reason", "updated_at"])
    _audit(
        Actor.system(),
        endpoint,
        "webhook.disabled",
        before={"enabled": True},
        after={"enabled": False, "reason": endpoint.disabled_reason},
    )
    logger.warning("webhook endpoint %s disabled: %s", endpoint.pk, endpoint.disabled_reason)


# --- Deliveries ---------------------------------------------------------------------------------


@transaction.atomic
def delivery_retry(*, actor: Actor, delivery: Delivery) -> Delivery:
    """ "Retry now": the delivery is attempted again at once, with a fresh retry budget when it
    had failed. 409 while its endpoint is disabled."""
    delivery = (
        Delivery.objects.select_for_update(of=("self",))
        .select_related("endpoint__project__organization")
        .get(pk=delivery.pk)
    )
    if not delivery.endpoint.enabled:
        raise ConflictError("The endpoint is disabled; enable it before retrying deliveries.")
    before = {"status": delivery.status, "attempts": delivery.attempts}
    if delivery.status == DeliveryStatus.FAILED:
        delivery.attempts = 0
    if delivery.status != DeliveryStatus.SUCCEEDED:
        delivery.status = DeliveryStatus.RETRYING if delivery.attempts else DeliveryStatus.PENDING
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["status", "attempts", "next_attempt_at"])
    _audit(
        actor,
        delivery.endpoint,
        "webhook.delivery_retried",
        before=before,
        after={"delivery": str(delivery.public_id)},
    )
    delivery_id = delivery.pk
    enqueue_on_commit("events.tasks.attempt_delivery", delivery_id, robust=True)
    return delivery


def payload_of(event: Event) -> str:
    """The body every attempt of every delivery of ``event`` sends (the same bytes)."""
    return json.dumps(
        {"type": event.type, "timestamp": event.created_at.isoformat(), "data": event.data},
        separators=(",", ":"),
        sort_keys=True,
    )


def signature_header(endpoint: WebhookEndpoint, message_id: str, at: datetime, body: str) -> str:
    """``v1,<sig>`` with the current secret, and a second one with the rotated-out secret
    while it is still valid (space-separated)."""
    signatures = [Webhook(decrypt_text(endpoint.secret)).sign(message_id, at, body)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > at:
        signatures.append(
            Webhook(decrypt_text(endpoint.previous_secret)).sign(message_id, at, body)
        )
    return " ".join(signatures)


@dataclass(frozen=True)
class Outcome:
    http_status: int | None
    error: str

    @property
    def succeeded(self) -> bool:
        return self.http_status is not None and 200 <= self.http_status < 300


def _post(endpoint: WebhookEndpoint, event: Event) -> Outcome:
    """One HTTP attempt through ``core.outbound``: the address guard, no redirects followed,
    WEBHOOK_TIMEOUT of wall clock for all of it (connect, send, the answer's status and
    headers), the answer's body never read. A timeout is a failed attempt, retried like a
    5xx."""
    body = payload_of(event)
    at = timezone.now()
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": event.message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature_header(endpoint, event.message_id, at, body),
    }
    timeout = float(settings.WEBHOOK_TIMEOUT)
    try:
        response = guarded_request(
            "POST",
            endpoint.url,
            max_bytes=None,
            data=body.encode(),
            headers=headers,
            timeout=timeout,
            what="webhook endpoint",
        )
    except DestinationRefused as exc:
        return Outcome(None, exc.message)
    except requests.Timeout:
        return Outcome(None, f"No answer within {timeout:g} s.")
    except requests.RequestException as exc:
        return Outcome(None, f"The request failed ({type(exc).__name__}).")
    ok = 200 <= response.status < 400
    return Outcome(response.status, "" if ok else response.reason[:100])


def next_wait(attempts: int) -> timedelta | None:
    """How long after attempt number ``attempts`` (1-based) the next one is due; None when
    the schedule is over."""
    if attempts > len(RETRY_SCHEDULE):
        return None
    base = RETRY_SCHEDULE[attempts - 1]
    return base * (1 + _jitter.uniform(-JITTER, JITTER))


def delivery_attempt(delivery_id: int, *, now: datetime | None = None) -> Delivery | None:
    """Attempt an open delivery that is due (``now``: the clock, for tests); record the
    outcome and when the next attempt is due. Returns the delivery, or None when there was
    nothing to do (done already, not due, its endpoint gone)."""
    now = now or timezone.now()
    delivery = (
        Delivery.objects.select_related("endpoint__project__organization", "event")
        .filter(pk=delivery_id, status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING])
        .first()
    )
    if delivery is None or (delivery.next_attempt_at and delivery.next_attempt_at > now):
        return None
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.FAILED, next_attempt_at=None, last_error="Endpoint disabled."
        )
        return None
    outcome = _post(endpoint, delivery.event)  # outside any transaction: it may take seconds
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("endpoint__project__organization", "event")
            .get(pk=delivery.pk)
        )
        if not delivery.is_open:  # "retry now" raced with us and finished it
            return delivery
        endpoint = _locked(delivery.endpoint)
        delivery.attempts += 1
        delivery.last_http_status = outcome.http_status
        delivery.last_error = outcome.error[:200]
        delivery.last_attempt_at = now
        if outcome.succeeded:
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.next_attempt_at = None
            if endpoint.failing_since is not None:
                endpoint.failing_since = None
                endpoint.save(update_fields=["failing_since"])
        else:
            if endpoint.failing_since is None:
                endpoint.failing_since = now
                endpoint.save(update_fields=["failing_since"])
            wait = next_wait(delivery.attempts)
            if outcome.http_status == 410:
                _disable(endpoint, "The endpoint answered 410 Gone.", now)
                wait = None
            elif endpoint.enabled and now - endpoint.failing_since >= FAILING_LIMIT:
                _disable(endpoint, "Every delivery failed for 5 days.", now)
                wait = None
            delivery.status = DeliveryStatus.RETRYING if wait else DeliveryStatus.FAILED
            delivery.next_attempt_at = now + wait if wait else None
        delivery.save()
        if delivery.status == DeliveryStatus.RETRYING and delivery.next_attempt_at:
            _schedule(delivery.pk, delivery.next_attempt_at)
    logger.info(
        "webhook delivery %s attempt %s: %s",
        delivery.pk,
        delivery.attempts,
        outcome.http_status or outcome.error,
    )
    return delivery


def defer_supported() -> bool:
    return bool(task_backends["default"].supports_defer)


def _schedule(delivery_id: int, at: datetime) -> None:
    """Enqueue the next attempt for ``at`` where the task backend can wait (the database
    backend); otherwise ``deliveries_due`` (the sweep) picks it up when due."""
    if not defer_supported():
        return
    enqueue_on_commit("events.tasks.attempt_delivery", delivery_id, run_after=at, robust=True)


def deliveries_sweep(*, now: datetime | None = None, limit: int = 1000) -> tuple[int, int]:
    """The safety net (``manage.py webhooks_sweep``, or a scheduler): dispatch events left
    undispatched (an enqueue lost after the commit) and attempt open deliveries that are
    due. Returns (events dispatched, deliveries attempted)."""
    now = now or timezone.now()
    events = list(
        Event.objects.filter(dispatched_at__isnull=True)
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )
    fresh: list[int] = []
    for event_id in events:
        fresh.extend(event_dispatch(event_id))
    for delivery_id in fresh:  # due from the moment they were made
        delivery_attempt(delivery_id, now=max(now, timezone.now()))
    due = list(
        Delivery.objects.filter(
            status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING], next_attempt_at__lte=now
        )
        .exclude(pk__in=fresh)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for delivery_id in due:
        delivery_attempt(delivery_id, now=now)
    return len(events), len(fresh) + len(due)
