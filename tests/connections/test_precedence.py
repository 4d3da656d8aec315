"""A stronger fact wins: the status table of docs/concepts.md ("Status and health"), through the
service that records a check, and the bulk check of issue 30 against a real provider."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import timezone

from connections import counters
from connections.models import Connection, Health, HealthCheck, Status
from connections.precedence import after_check
from connections.services.health import (
    HealthResult,
    connections_check_health_bulk,
    health_result_record,
)
from events.models import Event
from projects.services import Actor
from tests.factories import make_connection, make_profile, make_project
from tests.provider import Answer, Provider, provider_server

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
A, E, R, D = Status.ACTIVE, Status.ERROR, Status.NEEDS_REAUTH, Status.DISABLED
OK, BAD, REFUSED, UNKNOWN = Health.HEALTHY, Health.UNHEALTHY, Health.NEEDS_REAUTH, Health.UNKNOWN

# status before, its health, the check's outcome → status after, health after
TABLE = [
    (A, OK, OK, A, OK),
    (A, OK, BAD, E, BAD),
    (A, OK, REFUSED, R, REFUSED),
    (A, OK, UNKNOWN, A, OK),
    (E, BAD, OK, A, OK),
    (E, BAD, BAD, E, BAD),
    (E, BAD, REFUSED, R, REFUSED),
    (E, BAD, UNKNOWN, E, BAD),
    (R, REFUSED, OK, R, REFUSED),
    (R, REFUSED, BAD, R, REFUSED),
    (R, REFUSED, REFUSED, R, REFUSED),
    (R, REFUSED, UNKNOWN, R, REFUSED),
]


@pytest.mark.parametrize(("before", "health", "outcome", "status", "health_after"), TABLE)
def test_status_table(
    before: str, health: str, outcome: str, status: str, health_after: str
) -> None:
    assert after_check(before, health, outcome) == (status, health_after)
    connection = make_connection(make_profile(make_project()))
    Connection.objects.filter(pk=connection.pk).update(
        status=before, health=health, health_error="the stored reason"
    )
    counters.recount()
    result = HealthResult(outcome, timezone.now(), "what this check saw")
    row = health_result_record(actor=SYSTEM, connection=connection, result=result)
    row.refresh_from_db()
    assert (row.status, row.health) == (status, health_after)
    # The history keeps every check, the losing ones too.
    assert list(HealthCheck.objects.values_list("status", flat=True)) == [outcome]
    if before == R:
        assert row.health_error == "the stored reason"  # the refusal stays the reason shown
    elif outcome in (BAD, REFUSED):
        assert row.health_error == "what this check saw"


@pytest.mark.parametrize("outcome", [OK, BAD, REFUSED, UNKNOWN])
def test_a_disabled_connection_records_nothing(outcome: str) -> None:
    assert after_check(D, UNKNOWN, outcome) == (D, UNKNOWN)
    connection = make_connection(make_profile(make_project()))
    Connection.objects.filter(pk=connection.pk).update(status=D)
    counters.recount()
    result = HealthResult(outcome, timezone.now(), "raced a disable")
    health_result_record(actor=SYSTEM, connection=connection, result=result)
    row = Connection.objects.get(pk=connection.pk)
    assert (row.status, row.health, row.health_checked_at) == (D, UNKNOWN, None)
    assert not HealthCheck.objects.exists()


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        yield server


def test_a_bulk_check_in_an_outage_keeps_what_the_provider_said(provider: Provider) -> None:
    """Issue 30: "Select all → Check health" while the provider is down turned 7 needs-reauth
    accounts into errors and called 4 disabled ones."""
    provider.routes["/me"] = Answer(503, {"error": "down"})
    profile = make_profile(make_project(), base_url=provider.url, health_path="/me")
    rows = [make_connection(profile) for _ in range(7)]
    statuses = [R, R, R, A, A, E, D]
    for row, status in zip(rows, statuses, strict=True):
        Connection.objects.filter(pk=row.pk).update(
            status=status, health=REFUSED if status == R else UNKNOWN
        )
    counters.recount()
    Event.objects.all().delete()
    results = connections_check_health_bulk(actor=SYSTEM, connections=rows)
    after = dict(Connection.objects.values_list("pk", "status"))
    assert [after[r.pk] for r in rows] == [R, R, R, E, E, E, D]
    assert [results[r.pk].status for r in rows] == [BAD] * 6 + [UNKNOWN]
    assert len(provider.calls("/me")) == 6  # the disabled one is not called
    assert HealthCheck.objects.count() == 6
    assert Connection.objects.filter(health=REFUSED).count() == 3
    # Events: the two active ones moved to error; nothing else changed status.
    assert Event.objects.filter(type="connection.status_changed").count() == 2
