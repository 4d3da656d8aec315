"""Webhooks and the outbound limits: a delivery attempt ends at WEBHOOK_TIMEOUT of wall clock,
however its receiver drips its answer (one byte a second never trips a read timeout), and is
retried like a 5xx; an endpoint URL on a private address in disguise is refused."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from events.models import DeliveryStatus, WebhookEndpoint
from events.services import delivery_attempt, endpoint_create, event_dispatch, event_record
from projects.services import Actor, ServiceError
from tests.conftest import Tenancy
from tests.provider import Answer, Provider, provider_server

pytestmark = pytest.mark.django_db


@pytest.fixture
def dripping() -> Iterator[Provider]:
    with provider_server() as server:
        server.routes["/hook"] = Answer(200, {"ok": True}, drip="headers")
        yield server


@override_settings(WEBHOOK_TIMEOUT=2)
def test_a_dripping_receiver_is_cut_at_the_deadline_and_retried(
    tenancy: Tenancy, dripping: Provider
) -> None:
    endpoint_create(
        actor=Actor.system(), project=tenancy.project, url=dripping.url + "/hook", events=["*"]
    )
    event = event_record(
        project=tenancy.project, type="connection.created", data={"connection_id": "1"}
    )
    [delivery_id] = event_dispatch(event.pk)
    started = time.monotonic()
    delivery = delivery_attempt(delivery_id)
    assert time.monotonic() - started < 2 + 1
    assert delivery is not None and len(dripping.calls("/hook")) == 1
    assert delivery.status == DeliveryStatus.RETRYING and delivery.attempts == 1
    assert delivery.last_http_status is None and "No answer within 2 s" in delivery.last_error
    assert delivery.next_attempt_at is not None


ISSUE_FORMS = [
    "https://[64:ff9b::7f00:1]:8042/",
    "https://[::127.0.0.1]:8042/",
    "https://224.0.0.1/",
]


@pytest.mark.parametrize("url", ISSUE_FORMS)
def test_an_endpoint_on_a_hidden_private_address_is_refused(
    tenancy: Tenancy, settings: Any, url: str
) -> None:
    """NAT64 and IPv4-compatible forms of loopback, and multicast, were accepted where
    ``[::1]`` was refused (production settings)."""
    settings.CONNECTION_ALLOW_PRIVATE_NETWORK = False
    with pytest.raises(ServiceError) as caught:
        endpoint_create(actor=Actor.system(), project=tenancy.project, url=url, events=["*"])
    assert caught.value.field == "url" and "private or reserved" in caught.value.message
    assert not WebhookEndpoint.objects.exists()
