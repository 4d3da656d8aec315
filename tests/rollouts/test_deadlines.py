"""Migration deadlines that act, with the clock controlled: each reminder goes out on its day
to the accounts still pending, at most once per account per day; at the deadline ``disable``
disables them (audited, one event each); a migrated account is left alone."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from connections.models import Connection, Status
from events.models import Event
from projects.models import AuditEntry
from projects.services import Actor
from rollouts.models import MigrationReminder, ProfileMigration
from rollouts.selectors import reminders_of
from rollouts.services import migration_create
from rollouts.services.deadlines import due_reminder_day, migration_deadlines_run
from tests.factories import make_connection, make_profile, make_project, pin_profile

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


@pytest.fixture
def world() -> dict[str, Any]:
    project = make_project()
    old = make_profile(project, name="v1")
    new = pin_profile(project, "v2", key="acme_crm")
    accounts = [make_connection(old, email=f"u{i}@x.example") for i in range(4)]
    return {"project": project, "old": old, "new": new, "accounts": accounts}


def start(world: dict[str, Any], deadline: datetime, **kwargs: Any) -> ProfileMigration:
    return migration_create(
        actor=SYSTEM,
        project=world["project"],
        from_profile=world["old"],
        to_profile=world["new"],
        title="Move to v2",
        deadline=deadline,
        **kwargs,
    )


def run(at: datetime, capture: Any) -> Any:
    with capture(execute=True):
        return migration_deadlines_run(now=at)


def test_reminders_go_out_on_their_days_once_per_account(
    world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    deadline = timezone.now() + timedelta(days=20)
    migration = start(world, deadline, reminder_days=[14, 7, 1])
    assert run(deadline - timedelta(days=15), django_capture_on_commit_callbacks).reminded == 0
    assert mail.outbox == []
    day14 = deadline - timedelta(days=14)
    assert run(day14, django_capture_on_commit_callbacks).reminded == 4
    assert len(mail.outbox) == 4
    # The scheduler runs every minute: nothing more on the same day.
    assert run(day14 + timedelta(hours=5), django_capture_on_commit_callbacks).reminded == 0
    assert len(mail.outbox) == 4
    # One account moves (re-authenticated onto the new profile) before the next reminder.
    Connection.objects.filter(pk=world["accounts"][0].pk).update(profile=world["new"])
    assert run(deadline - timedelta(days=7), django_capture_on_commit_callbacks).reminded == 3
    sent = reminders_of(migration)
    assert [(r.day, r.count) for r in sent] == [(14, 4), (7, 3)]
    assert MigrationReminder.objects.filter(day=14).count() == 4


def test_a_scheduler_that_was_down_sends_only_the_latest_reminder(world: dict[str, Any]) -> None:
    deadline = timezone.now() + timedelta(days=20)
    migration = start(world, deadline, reminder_days=[14, 7, 1])
    assert due_reminder_day(migration, deadline - timedelta(days=3)) == 7
    assert due_reminder_day(migration, deadline - timedelta(hours=2)) == 1
    assert due_reminder_day(migration, deadline + timedelta(seconds=1)) is None


def test_disable_at_the_deadline(
    world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    deadline = timezone.now() + timedelta(minutes=2)
    start(world, deadline, deadline_action="disable")
    moved = world["accounts"][0]
    Connection.objects.filter(pk=moved.pk).update(profile=world["new"])
    assert run(deadline - timedelta(seconds=1), django_capture_on_commit_callbacks).disabled == 0
    assert not Connection.objects.filter(status=Status.DISABLED).exists()
    assert run(deadline, django_capture_on_commit_callbacks).disabled == 3
    statuses = dict(Connection.objects.values_list("pk", "status"))
    assert statuses.pop(moved.pk) == Status.ACTIVE
    assert set(statuses.values()) == {Status.DISABLED}
    events = Event.objects.filter(type="connection.status_changed")
    assert events.count() == 3 and {e.data["status"] for e in events} == {"disabled"}
    assert AuditEntry.objects.filter(action="connection.disabled").count() == 3
    reached = AuditEntry.objects.get(action="migration.deadline_reached")
    assert reached.after == {"action": "disable", "disabled": 3}
    # Applied once: a later run changes nothing more.
    Connection.objects.filter(pk=world["accounts"][1].pk).update(status=Status.ACTIVE)
    assert run(deadline + timedelta(minutes=1), django_capture_on_commit_callbacks).disabled == 0


def test_deadline_action_none_only_records_the_deadline(
    world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    deadline = timezone.now() + timedelta(days=1)
    migration = start(world, deadline)
    assert run(deadline + timedelta(minutes=1), django_capture_on_commit_callbacks).disabled == 0
    assert not Connection.objects.filter(status=Status.DISABLED).exists()
    migration.refresh_from_db()
    assert migration.deadline_applied_at is not None
