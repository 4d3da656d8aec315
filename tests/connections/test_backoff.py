"""The scheduler's backoff per connection, with the clock moved by time-machine and a real
provider on loopback: a day of a provider that refuses costs each connection a bounded number
of attempts and one event when it starts failing, not one a minute."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from connections.models import Connection, HealthCheck, Status
from connections.services import backoff
from connections.services.scheduled import (
    check_due_health,
    health_due,
    refresh_due_tokens,
    tokens_due,
)
from events.models import Event
from tests.connections.test_tokens import oauth_connection
from tests.factories import make_connection, make_profile, make_project
from tests.provider import Answer, Provider, provider_server

pytestmark = pytest.mark.django_db(transaction=True)
DAY = 24 * 3600
TICK = 60  # the scheduler's default interval (SCHEDULE_TOKEN_REFRESH_SECONDS)


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        yield server


@pytest.fixture(autouse=True)
def _backoff(settings: Any) -> None:
    settings.RETRY_BACKOFF_BASE_SECONDS = 60
    settings.RETRY_BACKOFF_MAX_SECONDS = 6 * 3600
    settings.HEALTH_CHECK_INTERVAL_SECONDS = 6 * 3600
    settings.OAUTH_ALLOW_HTTP_LOOPBACK = True
    settings.SCHEDULE_CONCURRENCY = 1  # SQLite in memory: one writer at a time
    random.seed(30)


def oauth_connections(provider: Provider, n: int) -> list[Connection]:
    """``n`` OAuth connections whose access token has expired (test_tokens' connection)."""
    return [oauth_connection(provider) for _ in range(n)]


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    """The test's clock, moved only by run_scheduler."""
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def run_scheduler(clock: time_machine.Traveller, job: Any, seconds: int) -> None:
    """Run ``job`` every TICK seconds for ``seconds`` of the test's clock (no real waiting)."""
    for _ in range(seconds // TICK):
        job()
        clock.shift(timedelta(seconds=TICK))


def events(type: str) -> int:
    return Event.objects.filter(type=type).count()


def test_a_day_of_a_refusing_token_endpoint_costs_a_bounded_number_of_attempts(
    provider: Provider, clock: time_machine.Traveller
) -> None:
    provider.routes["/token"] = Answer(503, {"error": "unavailable"})
    rows = oauth_connections(provider, 3)
    run_scheduler(clock, refresh_due_tokens, DAY)
    attempts = len(provider.calls("/token"))
    # Without backoff: 1,440 runs × 3 connections, 4,320 attempts and as many events. With it,
    # each connection waits 30-60 s, 1-2 min, ... doubling to a cap of 3-6 h: at most 17 a day.
    assert 3 * 10 <= attempts <= 3 * 17, attempts
    assert events("connection.refresh_failed") == 3  # one per connection, when it started
    for row in Connection.objects.filter(pk__in=[r.pk for r in rows]):
        assert row.status == Status.ACTIVE  # a failure that may pass is no refusal
        assert row.refresh_failures == attempts // 3 or row.refresh_failures > 9
        assert row.refresh_retry_at is not None


def test_success_resets_the_backoff_and_a_new_failure_is_announced_again(
    provider: Provider, clock: time_machine.Traveller
) -> None:
    provider.routes["/token"] = Answer(503, {"error": "unavailable"})
    (row,) = oauth_connections(provider, 1)
    run_scheduler(clock, refresh_due_tokens, 3600)
    row.refresh_from_db()
    assert row.refresh_failures >= 4 and events("connection.refresh_failed") == 1
    provider.routes["/token"] = Answer(
        200, {"access_token": "a2", "token_type": "bearer", "expires_in": 60}
    )
    run_scheduler(clock, refresh_due_tokens, 3 * 3600)  # the retry comes within the backoff's cap
    row.refresh_from_db()
    assert row.tokens_refreshed_at is not None
    assert row.refresh_failures == 0 and row.refresh_retry_at is None
    provider.routes["/token"] = Answer(502, {"error": "bad gateway"})
    run_scheduler(clock, refresh_due_tokens, 3600)  # the 60 s token is due again at once
    assert events("connection.refresh_failed") == 2


def test_a_refused_refresh_token_is_tried_once_until_reauthentication(
    provider: Provider, clock: time_machine.Traveller
) -> None:
    provider.routes["/token"] = Answer(400, {"error": "invalid_grant"})
    (row,) = oauth_connections(provider, 1)
    run_scheduler(clock, refresh_due_tokens, DAY)
    assert len(provider.calls("/token")) == 1
    row.refresh_from_db()
    assert row.status == Status.NEEDS_REAUTH
    assert events("connection.refresh_failed") == 1
    assert events("connection.status_changed") == 1


def api_key_connections(provider: Provider, n: int) -> list[Connection]:
    profile = make_profile(make_project(), base_url=provider.url, health_path="/me")
    return [make_connection(profile, config={"api_key": "key-0123456789"}) for _ in range(n)]


def test_a_day_of_a_failing_health_check(provider: Provider, clock: time_machine.Traveller) -> None:
    provider.routes["/me"] = Answer(503, {"error": "unavailable"})
    api_key_connections(provider, 2)
    run_scheduler(clock, check_due_health, DAY)
    checks = len(provider.calls("/me"))
    # Before: an erring connection was never checked again (one check, no recovery); now it is
    # retried with the backoff: bounded, and recorded in the history every time.
    assert 2 * 10 <= checks <= 2 * 17, checks
    assert HealthCheck.objects.count() == checks
    assert events("connection.status_changed") == 2  # active → error, once each
    provider.routes["/me"] = Answer(200, {"ok": True})
    run_scheduler(clock, check_due_health, 6 * 3600)
    assert set(Connection.objects.values_list("status", "health_failures")) == {(Status.ACTIVE, 0)}
    assert events("connection.status_changed") == 4  # and back, once each


def test_the_due_queries_skip_connections_waiting_out_a_backoff(provider: Provider) -> None:
    waiting, ready, refused, off = oauth_connections(provider, 4)
    now = timezone.now()
    Connection.objects.filter(pk=waiting.pk).update(
        refresh_failures=2,
        refresh_retry_at=now + timedelta(minutes=2),
        health_failures=2,
        health_retry_at=now + timedelta(minutes=2),
        status=Status.ERROR,
        health_checked_at=now - timedelta(days=1),
    )
    Connection.objects.filter(pk=ready.pk).update(
        refresh_failures=2,
        refresh_retry_at=now - timedelta(seconds=1),
        health_failures=2,
        health_retry_at=now - timedelta(seconds=1),
        status=Status.ERROR,
        health_checked_at=now - timedelta(minutes=3),
    )
    Connection.objects.filter(pk=refused.pk).update(status=Status.NEEDS_REAUTH)
    Connection.objects.filter(pk=off.pk).update(status=Status.DISABLED)
    assert set(tokens_due(now)) == {ready}
    assert set(health_due(now)) == {ready}


def test_retry_delay_doubles_with_jitter_up_to_the_cap(settings: Any) -> None:
    rng = random.Random(1)
    for failures, ceiling in [(1, 60), (2, 120), (3, 240), (9, 15360), (10, 21600), (99, 21600)]:
        delays = [backoff.retry_delay(failures, rng=rng).total_seconds() for _ in range(200)]
        assert ceiling / 2 <= min(delays) and max(delays) <= ceiling
        assert max(delays) - min(delays) > ceiling / 4  # spread: connections drift apart
