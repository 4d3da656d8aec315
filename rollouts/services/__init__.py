"""Writes on profile migrations: start (by hand or from a breaking release's change report),
reconnect links, notices (a background task, one email per account), completion."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Least
from django.utils import timezone

from connections.models import Connection, ConnectSession
from connections.services.connect import connect_session_create
from connectors.models import ConnectorVersion
from core.tasks import enqueue_on_commit
from core.validation import text_problem
from events.services import event_record
from profiles.models import ConnectorProfile
from profiles.services import profile_create, profile_make_default, profile_update, setup_fields
from projects.crypto import decrypt_json, decrypt_text, encrypt_text
from projects.models import Project
from projects.services import Actor, ConflictError, ServiceError, audit_record

from .. import selectors as migration_selectors
from ..models import MigrationNotice, NoticeRun, ProfileMigration
from ..selectors import LINK_REUSE_MARGIN, link_is_reusable, link_url

LINK_LIFETIME = timedelta(days=5)  # the connect sessions' maximum
NOTICE_BATCH = 500


def _audit(actor: Actor, migration: ProfileMigration, action: str, **after: Any) -> None:
    audit_record(
        actor=actor,
        organization=migration.project.organization,
        project=migration.project,
        action=action,
        target=migration,
        after=after or None,
    )


@transaction.atomic
def migration_create(
    *,
    actor: Actor,
    project: Project,
    from_profile: ConnectorProfile,
    to_profile: ConnectorProfile,
    title: str,
    message: str = "",
    deadline: datetime | None = None,
    make_default: bool = False,
    deadline_action: str | None = None,
    reminder_days: list[int] | None = None,
) -> ProfileMigration:
    """Track the move of ``from_profile``'s connections to ``to_profile``; with
    ``make_default`` new end users connect to ``to_profile`` too (not to the old one). At the
    ``deadline`` the scheduler applies ``deadline_action`` to the accounts still pending,
    and reminds them ``reminder_days`` before it (rollouts.services.deadlines)."""
    title = title.strip()
    if not title:
        raise ServiceError("Give the migration a title.", field="title")
    problem = text_problem(title, max_length=200)
    if problem is not None:
        raise ServiceError(f"The title {problem}.", field="title")
    if from_profile.project_id != project.pk or to_profile.project_id != project.pk:
        raise ServiceError("Both profiles must belong to this project.", field="to_profile")
    if from_profile.pk == to_profile.pk:
        raise ServiceError("Choose a different profile to migrate to.", field="to_profile")
    if from_profile.connector_id != to_profile.connector_id:
        raise ServiceError(
            "A migration moves accounts between profiles of the same connector.",
            field="to_profile",
        )
    if deadline is not None and deadline <= timezone.now():
        raise ServiceError("The deadline must be in the future.", field="deadline")
    from .deadlines import checked_schedule

    schedule = checked_schedule(deadline, deadline_action, reminder_days)
    migration = ProfileMigration(
        project=project,
        from_profile=from_profile,
        to_profile=to_profile,
        title=title,
        message=message.strip(),
        deadline=deadline,
        deadline_action=schedule.action,
        reminder_days=schedule.reminder_days,
        created_by=actor.user,
        created_by_label=actor.label[:200],
    )
    try:
        with transaction.atomic():
            migration.save()
    except IntegrityError as exc:
        raise ConflictError(
            f"{from_profile.name} already has a migration in progress; complete it first.",
            field="from_profile",
        ) from exc
    if make_default:
        profile_make_default(actor=actor, profile=to_profile)
    _audit(
        actor,
        migration,
        "migration.started",
        from_profile=from_profile.name,
        to_profile=to_profile.name,
        deadline=deadline.isoformat() if deadline else None,
        deadline_action=schedule.action,
        reminder_days=schedule.reminder_days,
    )
    return migration


@dataclass(frozen=True)
class SetupPlan:
    """The new profile's setup fields: copied from the old profile where the key still
    exists, asked for otherwise."""

    fields: list[dict[str, Any]]
    copied: dict[str, str]  # key → value (secrets included, never shown)
    missing: list[str]  # required keys with no value to copy


def setup_plan(from_profile: ConnectorProfile, version: ConnectorVersion) -> SetupPlan:
    old = {**{k: str(v) for k, v in from_profile.setup_values.items()}}
    old.update({k: str(v) for k, v in decrypt_json(from_profile.setup_secrets).items()})
    fields = setup_fields(version)
    copied = {f["key"]: old[f["key"]] for f in fields if old.get(f["key"])}
    missing = [f["key"] for f in fields if f.get("required") and f["key"] not in copied]
    return SetupPlan(fields, copied, missing)


@transaction.atomic
def migration_start_with_new_profile(
    *,
    actor: Actor,
    project: Project,
    version: ConnectorVersion,
    from_profile: ConnectorProfile,
    profile_name: str,
    setup: dict[str, str],
    title: str,
    message: str = "",
    deadline: datetime | None = None,
    make_default: bool = False,
) -> ProfileMigration:
    """One step from a breaking release: a new profile pinned to ``<major>.x.x`` (setup
    fields copied where they still apply, the rest from ``setup``) and the migration."""
    if version.connector_id != from_profile.connector_id:
        raise ServiceError("The version belongs to another connector.", field="version")
    plan = setup_plan(from_profile, version)
    values = {**plan.copied, **{k: v for k, v in setup.items() if v.strip()}}
    for field in plan.fields:
        if field.get("required") and not values.get(field["key"], "").strip():
            raise ServiceError(
                f"{field.get('label') or field['key']} is required.", field=f"setup_{field['key']}"
            )
    profile = profile_create(
        actor=actor,
        project=project,
        connector_key=from_profile.connector.key,
        name=profile_name,
        pin=f"{version.major}.x.x",
    )
    profile = profile_update(
        actor=actor,
        profile=profile,
        version=version,
        name=profile.name,
        is_default=False,
        values=values,
    )
    return migration_create(
        actor=actor,
        project=project,
        from_profile=from_profile,
        to_profile=profile,
        title=title,
        message=message,
        deadline=deadline,
        make_default=make_default,
    )


@transaction.atomic
def migration_complete(*, actor: Actor, migration: ProfileMigration) -> ProfileMigration:
    migration = (
        ProfileMigration.objects.select_for_update()
        .select_related("project__organization")
        .get(pk=migration.pk)
    )
    if migration.completed_at is None:
        migration.completed_at = timezone.now()
        migration.save(update_fields=["completed_at"])
        # The reconnect links it sent stop working (a later re-authentication is a new one).
        ConnectSession.objects.filter(
            pk__in=MigrationNotice.objects.filter(migration=migration).values("session_id"),
            used_at__isnull=True,
            expires_at__gt=migration.completed_at,
        ).update(expires_at=migration.completed_at)
        progress = migration_selectors.progress(migration)
        _audit(
            actor,
            migration,
            "migration.completed",
            pending=progress.pending,
            migrated=progress.migrated,
        )
        event_record(
            project=migration.project,
            type="migration.completed",
            data={
                "migration_id": str(migration.public_id),
                "from_profile_id": str(migration.from_profile.public_id),
                "to_profile_id": str(migration.to_profile.public_id),
                "pending": progress.pending,
                "migrated": progress.migrated,
            },
        )
    return migration


# --- Reconnect links ------------------------------------------------------------------------------


def migration_link(
    *, actor: Actor, migration: ProfileMigration, connection: Connection
) -> tuple[MigrationNotice, str]:
    """The account's reconnect link: a connect session with ``account_id`` routed to the
    to-profile. A still-valid link is reused; an expired or used one is replaced."""

    with transaction.atomic():
        notice, _ = MigrationNotice.objects.get_or_create(
            migration=migration, connection=connection
        )
        notice = (
            MigrationNotice.objects.select_for_update(of=("self",))
            .select_related("session")
            .get(pk=notice.pk)
        )
        if link_is_reusable(notice):
            return notice, link_url(decrypt_text(notice.link_token))
        lifetime = LINK_LIFETIME
        if migration.deadline is not None:
            until_deadline = migration.deadline - timezone.now()
            if until_deadline > LINK_REUSE_MARGIN:
                lifetime = min(lifetime, until_deadline)
        created = connect_session_create(
            actor=actor,
            project=migration.project,
            connector_profile_id=migration.to_profile.public_id,
            account_id=connection.public_id,
            expires_in=int(lifetime.total_seconds()),
        )
        notice.session = created.session
        notice.link_token = encrypt_text(created.token)
        notice.link_expires_at = created.expires_at
        notice.save(update_fields=["session", "link_token", "link_expires_at"])
        return notice, created.url


def migration_notice_sent(*, notice_id: int) -> None:
    """Count one more reconnect email sent for this account, now."""
    MigrationNotice.objects.filter(pk=notice_id).update(
        notices_sent=F("notices_sent") + 1, last_sent_at=timezone.now()
    )


def notice_run_advance(*, run_id: int, processed: int, sent: int) -> None:
    """A batch of a notice run is done (``processed`` accounts gone through, ``sent`` emailed)."""
    NoticeRun.objects.filter(pk=run_id).update(
        processed=Least(F("processed") + processed, F("queued")),
        sent=F("sent") + sent,
        updated_at=timezone.now(),
    )


def migration_notify(
    *, actor: Actor, migration: ProfileMigration, connection_ids: Iterable[UUID] | None = None
) -> int:
    """Queue the reconnect email for the given pending accounts (their public ids; all pending
    with None):
    background tasks of NOTICE_BATCH accounts each, enqueued after the commit. Returns how
    many accounts were queued."""
    if ProfileMigration.objects.filter(pk=migration.pk, completed_at__isnull=False).exists():
        raise ServiceError("This migration is complete; it sends no more notices.")
    pending = migration_selectors.pending(migration).order_by("pk")
    if connection_ids is not None:
        wanted = sorted(set(connection_ids))
        ids = list(pending.filter(public_id__in=wanted).values_list("pk", flat=True))
    else:
        ids = list(pending.values_list("pk", flat=True).iterator(chunk_size=10_000))
    batches = [ids[i : i + NOTICE_BATCH] for i in range(0, len(ids), NOTICE_BATCH)]
    run = NoticeRun.objects.create(migration=migration, queued=len(ids)) if ids else None

    for batch in batches:
        enqueue_on_commit(
            "rollouts.tasks.send_migration_notices",
            migration.pk,
            batch,
            actor.label,
            run.pk if run else None,
        )
    _audit(actor, migration, "migration.notices_queued", accounts=len(ids))
    return len(ids)
