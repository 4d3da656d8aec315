"""Staged rollouts of a profile, and profile migrations (progress, pending accounts, the
deadline and its reminders).

A project API key sees its own project's rollouts and migrations; another project's is a 404.
Reconnect links are shown when a still-valid one exists (they are what an admin sends to the
account); reading never creates one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from django.http import Http404, HttpRequest
from ninja import Field, Query, Router, Schema, Status

from core.validation import MAX_OFFSET, Line
from profiles import selectors as profile_selectors
from projects.services import ServiceError
from rollouts import selectors as migration_selectors
from rollouts import services as migration_services
from rollouts.models import ProfileMigration
from rollouts.selectors import Progress, ReminderSent
from rollouts.services import deadlines
from rollouts.services.deadlines import MAX_REMINDERS

from .connectors import _actor, _project

router = Router(tags=["migrations"])

MAX_LIMIT = 200
StatusName = Literal["in_progress", "complete"]
ConnectionStatusName = Literal["active", "needs_reauth", "error", "disabled"]


# --- Schemas ---------------------------------------------------------------------------------


class ReminderOut(Schema):
    day: int = Field(description="Days before the deadline.")
    sent_at: datetime = Field(description="When it went out (its first account).")
    count: int = Field(description="Accounts it went to.")


class MigrationOut(Schema):
    id: UUID
    title: str
    from_profile_id: UUID
    from_profile_name: str
    to_profile_id: UUID
    to_profile_name: str
    connector_key: str
    started_at: datetime
    deadline: datetime | None
    completed_at: datetime | None
    status: StatusName
    pending: int = Field(description="Connections still on the from-profile.")
    migrated: int = Field(
        description="Connections moved from the from-profile to the to-profile by "
        "re-authentication since the migration started."
    )
    total: int = Field(description="pending + migrated.")
    percent: float = Field(description="migrated / total × 100, one decimal (100 when empty).")
    deadline_action: Literal["none", "disable"] = Field(
        description="What the scheduler does to the accounts still pending at the deadline."
    )
    reminder_days: list[int] = Field(
        description="Days before the deadline on which pending accounts are reminded."
    )
    reminders: list[ReminderOut] = Field(description="The reminders sent so far.")


class MigrationDetailOut(MigrationOut):
    message: str = Field(description="The message to end users in the reconnect email.")
    notices_sent: int = Field(description="Reconnect emails sent, all accounts together.")
    accounts_notified: int = Field(description="Accounts sent at least one reconnect email.")


class PendingAccountOut(Schema):
    id: UUID = Field(description="The connection's id.")
    origin_owner_id: str
    origin_owner_name: str
    email: str
    status: ConnectionStatusName
    notices_sent: int
    last_sent_at: datetime | None
    reconnect_url: str | None = Field(
        description="The account's current single-use reconnect link while it is valid; null "
        "when none was made yet or it was used or expires within the hour (reading never "
        "creates one)."
    )


class PendingPageOut(Schema):
    items: list[PendingAccountOut]
    total: int = Field(
        description="How many accounts are pending (exact; cached up to 30 s, refreshed at "
        "once when an account re-authenticates)."
    )
    limit: int
    offset: int


class MigrationIn(Schema):
    from_profile_id: UUID
    to_profile_id: UUID
    title: Line | None = Field(None, max_length=200)
    deadline: datetime | None = None
    deadline_action: Literal["none", "disable"] = "none"
    reminder_days: list[int] = Field(default_factory=list, max_length=MAX_REMINDERS)


class MigrationPatch(Schema):
    deadline: datetime | None = None
    deadline_action: Literal["none", "disable"] | None = None
    reminder_days: list[int] | None = Field(None, max_length=MAX_REMINDERS)


class PendingQuery(Schema):
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


# --- Bodies ----------------------------------------------------------------------------------


def migration_body(
    migration: ProfileMigration, progress: Progress, reminders: list[ReminderSent] | None = None
) -> dict[str, Any]:
    return {
        "id": migration.public_id,
        "title": migration.title,
        "from_profile_id": migration.from_profile.public_id,
        "from_profile_name": migration.from_profile.name,
        "to_profile_id": migration.to_profile.public_id,
        "to_profile_name": migration.to_profile.name,
        "connector_key": migration.from_profile.connector.key,
        "started_at": migration.started_at,
        "deadline": migration.deadline,
        "completed_at": migration.completed_at,
        "status": "in_progress" if migration.is_open else "complete",
        "pending": progress.pending,
        "migrated": progress.migrated,
        "total": progress.total,
        "percent": progress.percent,
        "deadline_action": migration.deadline_action,
        "reminder_days": list(migration.reminder_days),
        "reminders": [
            {"day": r.day, "sent_at": r.sent_at, "count": r.count}
            for r in (
                migration_selectors.reminders_of(migration) if reminders is None else reminders
            )
        ],
    }


def _migration(request: HttpRequest, migration_id: UUID) -> ProfileMigration:
    migration = migration_selectors.migration_of(_project(request), migration_id)
    if migration is None:
        raise Http404("No such migration in this project.")
    return migration


# --- Endpoints -------------------------------------------------------------------------------


@router.get(
    "/migrations",
    response=list[MigrationOut],
    summary="List profile migrations",
    description="Every migration of the API key's project, newest first, with its progress.",
)
def migration_list(request: HttpRequest) -> list[dict[str, Any]]:
    migrations = list(migration_selectors.migrations_of(_project(request)))
    progress = migration_selectors.progress_many(migrations)
    reminders = migration_selectors.reminders_many(migrations)
    return [migration_body(m, progress[m.pk], reminders[m.pk]) for m in migrations]


@router.get(
    "/migrations/{migration_id}",
    response=MigrationDetailOut,
    summary="One profile migration",
    description="The migration with its progress, its message and how many reconnect emails "
    "were sent to how many accounts.",
)
def migration_detail(request: HttpRequest, migration_id: UUID) -> dict[str, Any]:
    migration = _migration(request, migration_id)
    progress = migration_selectors.progress_many([migration])[migration.pk]
    sent, accounts = migration_selectors.notice_totals(migration)
    return {
        **migration_body(migration, progress),
        "message": migration.message,
        "notices_sent": sent,
        "accounts_notified": accounts,
    }


@router.get(
    "/migrations/{migration_id}/pending",
    response=PendingPageOut,
    summary="Pending accounts of a migration",
    description="Connections still on the from-profile, newest first, with their notice "
    f"tracking and current reconnect link. `limit` 1–{MAX_LIMIT}, `offset` 0–{MAX_OFFSET:,}.",
)
def migration_pending(
    request: HttpRequest, migration_id: UUID, query: Query[PendingQuery]
) -> dict[str, Any]:
    migration = _migration(request, migration_id)
    total = migration_selectors.progress(migration).pending  # the cached figure
    rows = migration_selectors.pending_by_offset(migration, offset=query.offset, limit=query.limit)
    items = [
        {
            "id": row.connection.public_id,
            "origin_owner_id": row.connection.origin_owner_id,
            "origin_owner_name": row.connection.origin_owner_name,
            "email": row.connection.email,
            "status": row.connection.status,
            "notices_sent": row.notices_sent,
            "last_sent_at": row.last_sent_at,
            "reconnect_url": row.link_url,
        }
        for row in migration_selectors.pending_rows(migration, rows)
    ]
    return {"items": items, "total": total, "limit": query.limit, "offset": query.offset}


@router.post(
    "/migrations",
    response={201: MigrationDetailOut},
    summary="Start a profile migration",
    description="Tracks the move of the from-profile's connections to the to-profile. With a "
    "`deadline`, the scheduler reminds the accounts still pending on each of `reminder_days` "
    "(days before it; each account at most once a day) and applies `deadline_action` to them "
    "at the deadline (`disable`: audited, one event per account). 409 when the from-profile "
    "has an open migration.",
)
def migration_create(request: HttpRequest, payload: MigrationIn) -> Status[dict[str, Any]]:
    project = _project(request)
    source = profile_selectors.profile_of(project, payload.from_profile_id)
    target = profile_selectors.profile_of(project, payload.to_profile_id)
    if source is None or target is None:
        missing = "from_profile_id" if source is None else "to_profile_id"
        raise ServiceError("No such connector profile in this project.", field=missing)
    migration = migration_services.migration_create(
        actor=_actor(request),
        project=project,
        from_profile=source,
        to_profile=target,
        title=payload.title or f"{source.name} → {target.name}",
        deadline=payload.deadline,
        deadline_action=payload.deadline_action,
        reminder_days=payload.reminder_days,
    )
    return Status(201, migration_detail(request, migration.public_id))


@router.patch(
    "/migrations/{migration_id}",
    response=MigrationDetailOut,
    summary="Change a migration's deadline, its action or its reminder days",
    description="Only the fields given change; a new deadline acts again. 400 for a deadline "
    "in the past, reminders or an action without a deadline, or a complete migration.",
)
def migration_update(
    request: HttpRequest, migration_id: UUID, payload: MigrationPatch
) -> dict[str, Any]:
    migration = _migration(request, migration_id)
    given = payload.model_fields_set
    deadlines.migration_schedule_set(
        actor=_actor(request),
        migration=migration,
        deadline=payload.deadline if "deadline" in given else deadlines.UNSET,
        deadline_action=(
            payload.deadline_action or "none" if "deadline_action" in given else deadlines.UNSET
        ),
        reminder_days=(
            payload.reminder_days or [] if "reminder_days" in given else deadlines.UNSET
        ),
    )
    return migration_detail(request, migration_id)
