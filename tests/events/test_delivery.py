"""Delivery to a real receiver on loopback: the retry schedule (time controlled by the
test), 410 Gone and the five-day rule, secret rotation, a hanging receiver, redirects, the
outbound guard, and the sweep that picks up what a lost enqueue left behind."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from events.models import Delivery, DeliveryStatus, Event, WebhookEndpoint
from events.services import (
    JITTER,
    RETRY_SCHEDULE,
    deliveries_sweep,
    delivery_attempt,
    delivery_retry,
    endpoint_create,
    endpoint_rotate_secret,
    endpoint_send_test,
    event_record,
)
from projects.models import AuditEntry
from projects.services import Actor, ServiceError
from tests.conftest import Tenancy

from .receiver import Receiver, receiver_server

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


def _record(tenancy: Tenancy, run_tasks: Any, n: int = 1) -> list[Event]:
    with run_tasks():
        return [
            event_record(
                project=tenancy.project, type="connection.created", data={"connection_id": str(i)}
            )
            for i in range(n)
        ]


def test_a_delivery_is_signed_and_succeeds_on_2xx(
    tenancy: Tenancy, endpoint: WebhookEndpoint, receiver: Receiver, run_tasks: Any
) -> None:
    receiver.status = 204
    [event] = _record(tenancy, run_tasks)
    [arrival] = receiver.verified()
    assert arrival.headers["webhook-id"] == event.message_id
    assert arrival.headers["content-type"] == "application/json"
    assert arrival.payload == {
        "type": "connection.created",
        "timestamp": event.created_at.isoformat(),
        "data": {"connection_id": "0"},
    }
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_http_status) == ("succeeded", 1, 204)
    assert delivery.next_attempt_at is None


def test_retries_follow_the_schedule_with_the_same_webhook_id_then_fail(
    tenancy: Tenancy, endpoint: WebhookEndpoint, receiver: Receiver, run_tasks: Any
) -> None:
    receiver.status = 500
    [event] = _record(tenancy, run_tasks)
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.RETRYING and delivery.attempts == 1
    clock = delivery.last_attempt_at
    assert clock is not None
    for number, wait in enumerate(RETRY_SCHEDULE, start=2):
        due = delivery.next_attempt_at
        assert due is not None
        assert wait * (1 - JITTER) <= due - clock <= wait * (1 + JITTER)
        # Not due yet: nothing is sent.
        assert delivery_attempt(delivery.pk, now=due - timedelta(milliseconds=1)) is None
        attempted = delivery_attempt(delivery.pk, now=due)
        assert attempted is not None and attempted.attempts == number
        delivery = attempted
        clock = due
    assert delivery.status == DeliveryStatus.FAILED and delivery.next_attempt_at is None
    assert delivery.last_http_status == 500
    assert len(receiver.arrivals) == len(RETRY_SCHEDULE) + 1
    assert {a.headers["webhook-id"] for a in receiver.arrivals} == {event.message_id}
    assert all(a.verified_by for a in receiver.arrivals)
    total = sum(RETRY_SCHEDULE, timedelta())
    assert total >= timedelta(hours=24)
    # "Retry now" gives a failed delivery a fresh attempt, which succeeds once the receiver is up.
    receiver.status = 200
    with run_tasks():
        delivery_retry(actor=SYSTEM, delivery=delivery)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 1


def test_redirects_are_not_followed(
    tenancy: Tenancy, endpoint: WebhookEndpoint, receiver: Receiver, run_tasks: Any
) -> None:
    receiver.status = 302
    _record(tenancy, run_tasks)
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.RETRYING and delivery.last_http_status == 302


def test_410_gone_disables_the_endpoint_with_an_audit_entry_and_a_banner(
    tenancy: Tenancy, endpoint: WebhookEndpoint, receiver: Receiver, run_tasks: Any
) -> None:
    receiver.status = 410
    _record(tenancy, run_tasks)
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "410" in endpoint.disabled_reason
    assert Delivery.objects.get().status == DeliveryStatus.FAILED
    entry = AuditEntry.objects.get(action="webhook.disabled")
    assert entry.actor_label == "system" and entry.target_id == str(endpoint.pk)
    # No more deliveries go to it.
    _record(tenancy, run_tasks)
    assert Delivery.objects.count() == 1 and len(receiver.arrivals) == 1
    page = tenancy.client("admin").get(f"/p/{tenancy.project.slug}/")
    assert b'data-testid="webhook-disabled-banner"' in page.content
    assert b"410 Gone" in page.content
    # Webhooks are for owners and admins: a viewer's overview has no webhook panel.
    viewer = tenancy.client("viewer").get(f"/p/{tenancy.project.slug}/")
    assert b'data-testid="webhook-disabled-banner"' not in viewer.content


def test_an_endpoint_failing_every_delivery_for_five_days_is_disabled(
    tenancy: Tenancy, endpoint: WebhookEndpoint, receiver: Receiver, run_tasks: Any
) -> None:
    receiver.status = 503
    _record(tenancy, run_tasks)
    endpoint.refresh_from_db()
    started = endpoint.failing_since
    assert started is not None and endpoint.enabled
    assert Delivery.objects.count() == 1
    # Four days later the first delivery has failed for good, the endpoint still tries.
    later = started + timedelta(days=4)
    event = event_record(project=tenancy.project, type="webhook.test", data={})
    event.endpoint = endpoint
    event.save()
    deliveries_sweep(now=later)
    endpoint.refresh_from_db()
    assert endpoint.enabled
    # Five days after the first failure, with no success in between: disabled.
    for _ in range(len(RETRY_SCHEDULE) + 1):
        deliveries_sweep(now=started + timedelta(days=5))
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "5 days" in endpoint.disabled_reason
    assert AuditEntry.objects.filter(action="webhook.disabled", target_id=str(endpoint.pk)).exists()


def test_a_success_resets_the_five_day_clock(
    tenancy: Tenancy, endpoint: WebhookEndpoint, receiver: Receiver, run_tasks: Any
) -> None:
    receiver.status = 500
    _record(tenancy, run_tasks)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None
    receiver.status = 200
    delivery = Delivery.objects.get()
    delivery_attempt(delivery.pk, now=delivery.next_attempt_at)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.enabled


def test_rotation_signs_with_both_secrets_for_24_hours(
    tenancy: Tenancy, endpoint: WebhookEndpoint, receiver: Receiver, run_tasks: Any
) -> None:
    [old_secret] = receiver.secrets
    until, new_secret = endpoint_rotate_secret(actor=SYSTEM, endpoint=endpoint)
    assert new_secret.startswith("whsec_") and new_secret != old_secret
    assert timedelta(hours=23, minutes=59) < until - timezone.now() <= timedelta(hours=24)
    receiver.secrets.append(new_secret)
    with run_tasks():
        endpoint_send_test(actor=SYSTEM, endpoint=endpoint)
    [arrival] = receiver.arrivals
    assert len(arrival.headers["webhook-signature"].split(" ")) == 2
    assert arrival.verified_by == [old_secret, new_secret]
    # After the 24 hours only the new secret signs.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    endpoint.refresh_from_db()
    receiver.arrivals.clear()
    with run_tasks():
        endpoint_send_test(actor=SYSTEM, endpoint=endpoint)
    [arrival] = receiver.arrivals
    assert arrival.verified_by == [new_secret]
    assert " " not in arrival.headers["webhook-signature"]


@override_settings(WEBHOOK_TIMEOUT=0.5)
def test_a_hanging_receiver_does_not_block_the_others(
    tenancy: Tenancy, receiver: Receiver, run_tasks: Any
) -> None:
    with receiver_server() as hanging:
        hanging.hang = 3.0
        slow, slow_secret = endpoint_create(
            actor=SYSTEM, project=tenancy.project, url=hanging.url(), events=["*"]
        )
        fast, fast_secret = endpoint_create(
            actor=SYSTEM, project=tenancy.project, url=receiver.url(), events=["*"]
        )
        receiver.secrets.append(fast_secret)
        hanging.secrets.append(slow_secret)
        _record(tenancy, run_tasks, n=2)
        assert len(receiver.verified()) == 2
        for delivery in Delivery.objects.filter(endpoint=fast):
            assert delivery.status == DeliveryStatus.SUCCEEDED
        for delivery in Delivery.objects.filter(endpoint=slow):
            assert delivery.status == DeliveryStatus.RETRYING
            assert delivery.last_http_status is None and "No answer within" in delivery.last_error


def test_the_causing_request_does_not_wait_for_delivery_and_the_sweep_catches_up(
    tenancy: Tenancy, endpoint: WebhookEndpoint, receiver: Receiver, run_tasks: Any, settings: Any
) -> None:
    """With a queueing backend the request only records and enqueues; a lost enqueue is
    picked up by the sweep (manage.py webhooks_sweep)."""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    [event] = _record(tenancy, run_tasks)
    assert receiver.arrivals == [] and not Delivery.objects.exists()
    event.refresh_from_db()
    assert event.dispatched_at is None
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    assert deliveries_sweep() == (1, 1)
    assert [a.type for a in receiver.verified()] == ["connection.created"]
    assert Delivery.objects.get().status == DeliveryStatus.SUCCEEDED


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",  # not https
        "https://127.0.0.1/hooks",
        "https://10.1.2.3/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hooks",
        "https://localhost/hooks",
    ],
)
def test_private_or_plain_http_endpoints_are_refused_outside_local_and_test(
    tenancy: Tenancy, settings: Any, url: str
) -> None:
    settings.CONNECTION_ALLOW_PRIVATE_NETWORK = False
    with pytest.raises(ServiceError) as refused:
        endpoint_create(actor=SYSTEM, project=tenancy.project, url=url, events=["*"])
    assert refused.value.field == "url"
    assert not WebhookEndpoint.objects.exists()


def test_an_attempt_to_a_private_address_is_refused_at_send_time(
    tenancy: Tenancy, endpoint: WebhookEndpoint, receiver: Receiver, run_tasks: Any, settings: Any
) -> None:
    """An endpoint saved while allowed (or a host that re-resolved) is checked again before
    every attempt."""
    settings.CONNECTION_ALLOW_PRIVATE_NETWORK = False
    _record(tenancy, run_tasks)
    assert receiver.arrivals == []
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.RETRYING and "https" in delivery.last_error


def test_no_secret_in_events_deliveries_or_audit(
    tenancy: Tenancy, endpoint: WebhookEndpoint, receiver: Receiver, run_tasks: Any
) -> None:
    [secret] = receiver.secrets
    _until, rotated = endpoint_rotate_secret(actor=SYSTEM, endpoint=endpoint)
    with run_tasks():
        endpoint_send_test(actor=SYSTEM, endpoint=endpoint)
    stored = WebhookEndpoint.objects.values_list("secret", "previous_secret").get()
    raw = secret.removeprefix("whsec_")
    for text in [*stored, *(a.body for a in receiver.arrivals), str(list(Event.objects.values()))]:
        assert raw not in text and rotated.removeprefix("whsec_") not in text
    for entry in AuditEntry.objects.filter(target_type="webhookendpoint"):
        assert raw not in f"{entry.before}{entry.after}"
        assert rotated.removeprefix("whsec_") not in f"{entry.before}{entry.after}"
