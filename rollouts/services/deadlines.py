"""Migration deadlines that act: the schedule (deadline, action, reminder days), set when a
migration starts or later, and the scheduler's run that sends each reminder on its day to the
accounts still pending (at most once per account per day: a unique key) and applies the action
at the deadline (each account disabled through the connections service: audited, one event
each)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from connections.models import Status
from connections.services.connections import connection_set_status
from core.tasks import enqueue_on_commit
from projects.services import Actor, ServiceError, audit_record

from .. import selectors as migration_selectors
from ..models import DeadlineAction, MigrationReminder, ProfileMigration

MAX_REMINDERS = 10
NOTICE_BATCH = 500
MAX_REMINDER_DAY = 365
UNSET: Any = object()


@dataclass(frozen=True)
class Schedule:
    deadline: datetime | None
    action: str
    reminder_days: list[int]


def checked_schedule(
    deadline: datetime | None, action: str | None, reminder_days: Iterable[Any] | None
) -> Schedule:
    """The schedule, or ServiceError naming the field: a deadline in the future; an action of
    ``none`` / ``disable`` (``disable`` needs a deadline); whole reminder days 1–365, each
    once (they need a deadline), highest first."""
    action = action or DeadlineAction.NONE
    if action not in DeadlineAction.values:
        raise ServiceError("deadline_action is none or disable.", field="deadline_action")
    days: list[int] = []
    for day in reminder_days or []:
        if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= MAX_REMINDER_DAY:
            raise ServiceError(
                f"Each reminder day is a whole number of days from 1 to {MAX_REMINDER_DAY}.",
                field="reminder_days",
            )
        days.append(day)
    if len(days) != len(set(days)) or len(days) > MAX_REMINDERS:
        raise ServiceError(
            f"Give up to {MAX_REMINDERS} different reminder days.", field="reminder_days"
        )
    if deadline is None and (action != DeadlineAction.NONE or days):
        raise ServiceError("A deadline action or reminders need a deadline.", field="deadline")
    return Schedule(deadline, action, sorted(days, reverse=True))


@transaction.atomic
def migration_schedule_set(
    *,
    actor: Actor,
    migration: ProfileMigration,
    deadline: datetime | None = UNSET,
    deadline_action: str | None = UNSET,
    reminder_days: list[int] | None = UNSET,
) -> ProfileMigration:
    """Change the deadline, its action or the reminder days (omitted: unchanged)."""
    migration = (
        ProfileMigration.objects.select_for_update(of=("self",))
        .select_related("project__organization", "from_profile__connector", "to_profile")
        .get(pk=migration.pk)
    )
    if migration.completed_at is not None:
        raise ServiceError("This migration is complete; its deadline no longer applies.")
    new_deadline = migration.deadline if deadline is UNSET else deadline
    if deadline is not UNSET and deadline is not None and deadline <= timezone.now():
        raise ServiceError("The deadline must be in the future.", field="deadline")
    schedule = checked_schedule(
        new_deadline,
        migration.deadline_action if deadline_action is UNSET else deadline_action,
        migration.reminder_days if reminder_days is UNSET else reminder_days,
    )
    before = _schedule_state(migration)
    migration.deadline = schedule.deadline
    migration.deadline_action = schedule.action
    migration.reminder_days = schedule.reminder_days
    if deadline is not UNSET:
        migration.deadline_applied_at = None  # a new deadline acts again
    migration.save(
        update_fields=["deadline", "deadline_action", "reminder_days", "deadline_applied_at"]
    )
    after = _schedule_state(migration)
    if after != before:
        audit_record(
            actor=actor,
            organization=migration.project.organization,
            project=migration.project,
            action="migration.schedule_changed",
            target=migration,
            before=before,
            after=after,
        )
    return migration


def _schedule_state(migration: ProfileMigration) -> dict[str, Any]:
    return {
        "deadline": migration.deadline.isoformat() if migration.deadline else None,
        "deadline_action": migration.deadline_action,
        "reminder_days": list(migration.reminder_days),
    }


# --- The scheduler's run -------------------------------------------------------------------


@dataclass(frozen=True)
class DeadlineRun:
    reminded: int = 0  # accounts queued for a reminder
    disabled: int = 0  # accounts disabled at a deadline


def due_reminder_day(migration: ProfileMigration, now: datetime) -> int | None:
    """The reminder day due now: the nearest to the deadline among those whose day has come
    (a scheduler that was down sends only the latest, not every missed one)."""
    if migration.deadline is None or now >= migration.deadline:
        return None
    due = [d for d in migration.reminder_days if now >= migration.deadline - timedelta(days=d)]
    return min(due) if due else None


def migration_deadlines_run(*, now: datetime | None = None) -> DeadlineRun:
    """Every open migration with a deadline: its reminder due now, or its action once the
    deadline passed (each migration in its own transaction)."""
    now = now or timezone.now()
    reminded = disabled = 0
    for pk in migration_selectors.open_with_deadline():
        with transaction.atomic():
            migration = (
                ProfileMigration.objects.select_for_update(of=("self",))
                .select_related("project__organization", "from_profile", "to_profile")
                .filter(pk=pk, completed_at__isnull=True)
                .first()
            )
            if migration is None or migration.deadline is None:
                continue
            if now >= migration.deadline:
                disabled += _apply_deadline(migration, now)
            else:
                reminded += _remind(migration, now)
    return DeadlineRun(reminded, disabled)


def _remind(migration: ProfileMigration, now: datetime) -> int:
    day = due_reminder_day(migration, now)
    if day is None:
        return 0
    done = MigrationReminder.objects.filter(migration=migration, day=day).values("connection_id")
    ids = list(
        migration_selectors.pending(migration)
        .exclude(pk__in=done)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not ids:
        return 0
    MigrationReminder.objects.bulk_create(
        [
            MigrationReminder(migration=migration, day=day, connection_id=c, sent_at=now)
            for c in ids
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )
    label = f"reminder {day} day(s) before the deadline"
    for i in range(0, len(ids), NOTICE_BATCH):
        enqueue_on_commit(
            "rollouts.tasks.send_migration_notices", migration.pk, ids[i : i + NOTICE_BATCH], label
        )
    audit_record(
        actor=Actor.system(),
        organization=migration.project.organization,
        project=migration.project,
        action="migration.reminder_sent",
        target=migration,
        after={"day": day, "accounts": len(ids)},
    )
    return len(ids)


def _apply_deadline(migration: ProfileMigration, now: datetime) -> int:
    if migration.deadline_applied_at is not None:
        return 0
    disabled = 0
    if migration.deadline_action == DeadlineAction.DISABLE:
        actor = Actor.system()
        rows = migration_selectors.pending(migration).exclude(status=Status.DISABLED)
        for connection in rows.select_related("project__organization", "profile").iterator():
            connection_set_status(actor=actor, connection=connection, status=Status.DISABLED)
            disabled += 1
    migration.deadline_applied_at = now
    migration.save(update_fields=["deadline_applied_at"])
    audit_record(
        actor=Actor.system(),
        organization=migration.project.organization,
        project=migration.project,
        action="migration.deadline_reached",
        target=migration,
        after={"action": migration.deadline_action, "disabled": disabled},
    )
    return disabled
