"""Reads of profile migrations: pending and migrated accounts, progress, notices.

Pending: connections still on the from-profile. Migrated: connections moved from it to the
to-profile by re-authentication since the migration started (``moved_from_profile``,
``moved_at``). Counts use the (profile, -created_at, -id) index; a million-row project costs
one index-only count per figure.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone

from connections.cache import profile_generation_key
from connections.models import Connection
from connectors.models import ConnectorVersion
from core import baked
from profiles import selectors as profile_selectors
from profiles.models import ConnectorProfile
from profiles.resolution import Resolved
from projects.crypto import DecryptionError, decrypt_text
from projects.models import Project

from .models import MigrationNotice, MigrationReminder, NoticeRun, ProfileMigration


def migrations_of(project: Project) -> QuerySet[ProfileMigration]:
    return ProfileMigration.objects.filter(project=project).select_related(
        "from_profile__connector", "to_profile__connector", "project"
    )


# Both filter by profile alone, as progress_many does: a profile belongs to one project (the
# migration's: migration_create checks) and so do its connections (connect sessions check the
# account's project). A ``project_id`` condition would add nothing and would cost the count its
# index-only scan of (profile, -created_at, -id): at 200,000 pending accounts PostgreSQL read
# the whole table instead (a parallel sequential scan, ~300 ms against ~20 ms).


def pending(migration: ProfileMigration) -> QuerySet[Connection]:
    return Connection.objects.filter(profile_id=migration.from_profile_id)


def migrated(migration: ProfileMigration) -> QuerySet[Connection]:
    return Connection.objects.filter(
        profile_id=migration.to_profile_id,
        moved_from_profile_id=migration.from_profile_id,
        moved_at__gte=migration.started_at,
    )


@dataclass(frozen=True)
class Progress:
    pending: int
    migrated: int

    @property
    def total(self) -> int:
        return self.pending + self.migrated

    @property
    def percent(self) -> float:
        return round(100 * self.migrated / self.total, 1) if self.total else 100.0


# Progress figures are exact counts (two index scans over up to hundreds of thousands of
# rows); pages and the API read them through a short cache. Each figure is stored with the
# generation of the from-profile's connections (connections.cache) it was counted at: a
# connection created, deleted or moved off the profile by a re-authentication bumps it, so the
# bar moves as soon as an account migrates; other changes show within the TTL.
PROGRESS_TTL = 30


def _progress_key(migration_id: int) -> str:
    return f"migration-progress:{migration_id}"


def _daily_key(migration_id: int) -> str:
    return f"migration-daily:{migration_id}"


def _fresh(entry: object, generation: object) -> tuple[object, ...] | None:
    """The cached figures of an entry (generation, *figures) still at ``generation``."""
    if isinstance(entry, tuple) and len(entry) > 1 and entry[0] == generation:
        return entry[1:]
    return None


def forget_progress(*, from_profile_id: int) -> None:
    """Drop the cached figures of the open migrations off ``from_profile_id``."""
    ids = ProfileMigration.objects.filter(from_profile_id=from_profile_id).values_list(
        "pk", flat=True
    )
    cache.delete_many([key for pk in ids for key in (_progress_key(pk), _daily_key(pk))])


def progress(migration: ProfileMigration) -> Progress:
    return progress_many([migration])[migration.pk]


def progress_many(migrations: list[ProfileMigration]) -> dict[int, Progress]:
    """Progress of a page of migrations: from the cache (one round trip with the
    generations), else two grouped queries."""
    if not migrations:
        return {}
    generation_keys = {m.pk: profile_generation_key(m.from_profile_id) for m in migrations}
    cached = cache.get_many(
        [_progress_key(m.pk) for m in migrations] + list(set(generation_keys.values()))
    )
    generations = {pk: cached.get(key) for pk, key in generation_keys.items()}
    result: dict[int, Progress] = {}
    for m in migrations:
        figures = _fresh(cached.get(_progress_key(m.pk)), generations[m.pk])
        if figures is not None:
            result[m.pk] = Progress(*figures)  # type: ignore[arg-type]
    missing = [m for m in migrations if m.pk not in result]
    if missing:
        fresh = _count_progress(missing)
        cache.set_many(
            {
                _progress_key(pk): (generations[pk], p.pending, p.migrated)
                for pk, p in fresh.items()
            },
            PROGRESS_TTL,
        )
        result.update(fresh)
    return result


def _count_progress(migrations: list[ProfileMigration]) -> dict[int, Progress]:
    from_ids = {m.from_profile_id for m in migrations}
    pending_by_profile = dict(
        Connection.objects.filter(profile_id__in=from_ids)
        .values_list("profile_id")
        .annotate(n=Count("pk"))
        .values_list("profile_id", "n")
    )

    def moved_q(m: ProfileMigration) -> Q:
        return Q(
            profile_id=m.to_profile_id,
            moved_from_profile_id=m.from_profile_id,
            moved_at__gte=m.started_at,
        )

    anywhere = Q()
    for m in migrations:
        anywhere |= moved_q(m)
    migrated_by = Connection.objects.filter(anywhere).aggregate(
        **{f"m{m.pk}": Count("pk", filter=moved_q(m)) for m in migrations}
    )
    return {
        m.pk: Progress(pending_by_profile.get(m.from_profile_id, 0), migrated_by[f"m{m.pk}"] or 0)
        for m in migrations
    }


def _open_from(profile_id: int) -> QuerySet[ProfileMigration]:
    return ProfileMigration.objects.filter(from_profile_id=profile_id, completed_at__isnull=True)


def _any_open_from(profile_id: int) -> QuerySet[ProfileMigration, int]:
    return _open_from(profile_id).values_list("pk", flat=True)[:1]


def open_migration_from(profile_id: int) -> ProfileMigration | None:
    return _open_from(profile_id).select_related("to_profile").first()


NOTICE_RUN_SHOWN_FOR = timedelta(minutes=10)  # a finished run's summary stays this long


def latest_notice_run(migration: ProfileMigration) -> NoticeRun | None:
    """The newest "send reconnect emails" run if it is still going, or finished lately (its
    summary is shown); None otherwise."""
    run = NoticeRun.objects.filter(migration=migration).order_by("-id").first()
    if run is None or (not run.active and run.updated_at < timezone.now() - NOTICE_RUN_SHOWN_FOR):
        return None
    return run


def migrating_away(project_id: int, connector_id: int) -> dict[int, ProfileMigration]:
    """The connector's profiles with an open migration away from them: profile id → migration
    (one query; connect links made for them warn)."""
    rows = ProfileMigration.objects.filter(
        project_id=project_id, from_profile__connector_id=connector_id, completed_at__isnull=True
    ).select_related("from_profile", "to_profile")
    return {m.from_profile_id: m for m in rows}


def migration_for_connection(connection: Connection) -> tuple[str, ProfileMigration] | None:
    """("pending" | "migrated", migration) for the connection's page, or None. Most
    profiles have no open migration: whether there is one first (a cheap query, ~0.35 ms of
    CPU less a page than loading it with its target profile; baked, ~0.5 ms less: core.baked),
    the row only when there is."""
    if baked.rows("migration.open_from", _any_open_from, connection.profile_id):
        open_from = open_migration_from(connection.profile_id)
        if open_from is not None:  # unless completed meanwhile
            return "pending", open_from
    if connection.moved_from_profile_id and connection.moved_at:
        moved = (
            ProfileMigration.objects.filter(
                from_profile_id=connection.moved_from_profile_id,
                to_profile_id=connection.profile_id,
                started_at__lte=connection.moved_at,
            )
            .order_by("-started_at")
            .first()
        )
        if moved is not None:
            return "migrated", moved
    return None


def _per_day(migration: ProfileMigration) -> dict[date, int]:
    """Migrated accounts per day; cached like the progress figures (and cleared with them)."""
    key = _daily_key(migration.pk)
    generation_key = profile_generation_key(migration.from_profile_id)
    found = cache.get_many([key, generation_key])
    generation = found.get(generation_key)
    figures = _fresh(found.get(key), generation)
    if figures is not None:
        return dict(figures[0])  # type: ignore[call-overload]
    counted = dict(
        migrated(migration)
        .annotate(day=TruncDate("moved_at"))
        .values_list("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    cache.set(key, (generation, counted), PROGRESS_TTL)
    return dict(counted)


def daily_migrated(migration: ProfileMigration, *, days: int = 60) -> list[tuple[date, int]]:
    """Cumulative migrated accounts per day since the start (at most ``days`` points)."""
    start = migration.started_at
    end = migration.completed_at or timezone.now()
    per_day = _per_day(migration)
    first = start.date()
    span = max(0, (end.date() - first).days)
    step = max(1, -(-span // days))
    points: list[tuple[date, int]] = []
    total = 0
    day = first
    cursor = first
    while cursor <= end.date():
        total += per_day.get(cursor, 0)
        if (cursor - day).days % step == 0 or cursor == end.date():
            points.append((cursor, total))
        cursor += timedelta(days=1)
    return points


def pending_with_notices(migration: ProfileMigration) -> QuerySet[Connection]:
    """Pending accounts annotated with whether they were sent a notice (for filters)."""
    sent = MigrationNotice.objects.filter(
        migration=migration, connection=OuterRef("pk"), notices_sent__gt=0
    )
    return pending(migration).annotate(notice_sent=Exists(sent))


def notices_for(
    migration: ProfileMigration, connection_ids: list[int]
) -> dict[int, MigrationNotice]:
    """The notices of a page of accounts in one query (with their sessions, which
    migration_services.link_is_reusable reads)."""
    return {
        n.connection_id: n
        for n in MigrationNotice.objects.filter(
            migration=migration, connection_id__in=connection_ids
        ).select_related("session")
    }


def deadline_left(migration: ProfileMigration, now: datetime | None = None) -> timedelta | None:
    if migration.deadline is None:
        return None
    return migration.deadline - (now or timezone.now())


# --- Starting from a breaking release --------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A profile that could move to the new major: its resolution now, and whether it
    already has a migration in progress (then it cannot start another)."""

    profile: ConnectorProfile
    resolved: Resolved | None
    busy: bool

    def major(self) -> int | None:
        if self.resolved is None:
            return None
        head = self.resolved.version.split(".", 1)[0]
        return int(head) if head.isdigit() else None


def candidates_for(project: Project, version: ConnectorVersion) -> list[Candidate]:
    """Profiles of the version's connector, except those already pinned to its major."""
    pin = f"{version.major}.x.x"
    profiles = [
        p
        for p in profile_selectors.profiles_of(project)
        .filter(connector_id=version.connector_id)
        .order_by("name", "pk")
        if (p.pin or "").strip() != pin
    ]
    resolved = profile_selectors.resolve_profiles(project, profiles)
    busy = set(
        ProfileMigration.objects.filter(
            from_profile__in=profiles, completed_at__isnull=True
        ).values_list("from_profile_id", flat=True)
    )
    return [Candidate(p, resolved[p.pk], p.pk in busy) for p in profiles]


def on_older_major(candidate: Candidate, version: ConnectorVersion) -> bool:
    major = candidate.major()
    return major is not None and major < version.major


def offer_version(project: Project, connector_id: int, above_major: int) -> ConnectorVersion | None:
    """The highest published version of the connector, visible to the project, whose change
    report says connections must re-authenticate, on a major above ``above_major``."""
    return (
        ConnectorVersion.objects.visible_to(project)
        .published()
        .filter(connector_id=connector_id, reauth_required=True, major__gt=above_major)
        .select_related("connector")
        .only("id", "version", "major", "connector__key")
        .order_by("-version_key")
        .first()
    )


def open_migration_into(profile: ConnectorProfile) -> ProfileMigration | None:
    return (
        ProfileMigration.objects.filter(to_profile=profile, completed_at__isnull=True)
        .select_related("from_profile")
        .order_by("-started_at")
        .first()
    )


def notice_of(migration: ProfileMigration, connection: Connection) -> MigrationNotice | None:
    return MigrationNotice.objects.filter(migration=migration, connection=connection).first()


# --- Reconnect links and the pending table ----------------------------------------------------

LINK_REUSE_MARGIN = timedelta(hours=1)  # a link expiring sooner than this is replaced


def link_url(token: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("connect_page", args=[token])


class ReconnectLinks:
    """The current reconnect URLs of a page of notices: the stored token while the link is
    still valid, else None (one ``reverse`` per page, not per row)."""

    def __init__(self) -> None:
        marker = "TOKEN"
        self.head, _, self.tail = link_url(marker).partition(marker)
        self.now = timezone.now()

    def url(self, notice: MigrationNotice | None) -> str | None:
        if notice is None or not link_is_reusable(notice, self.now):
            return None
        try:
            return f"{self.head}{decrypt_text(notice.link_token)}{self.tail}"
        except DecryptionError:  # encrypted under a key since removed: no usable link
            return None


def link_is_reusable(notice: MigrationNotice, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    session = notice.session
    return bool(
        notice.link_token
        and session is not None
        and session.used_at is None
        and session.expires_at > now + LINK_REUSE_MARGIN
    )


@dataclass(frozen=True)
class PendingRow:
    """A pending account with its notice tracking and its current reconnect link (None when
    it has no valid one)."""

    connection: Connection
    notice: MigrationNotice | None
    link_url: str | None

    @property
    def notices_sent(self) -> int:
        return self.notice.notices_sent if self.notice else 0

    @property
    def last_sent_at(self) -> datetime | None:
        return self.notice.last_sent_at if self.notice else None


def pending_rows(migration: ProfileMigration, connections: list[Connection]) -> list[PendingRow]:
    """The rows of a page of pending accounts (the page, the CSV export and the API): their
    notices in one query, their links with one ``reverse``."""
    notices = notices_for(migration, [c.pk for c in connections]) if connections else {}
    links = ReconnectLinks()
    return [PendingRow(c, notices.get(c.pk), links.url(notices.get(c.pk))) for c in connections]


# What a pending row shows (and pages by): loading only these keeps a page cheap.
PENDING_COLUMNS = (
    "id",
    "public_id",
    "project_id",
    "profile_id",
    "name",
    "origin_owner_id",
    "origin_owner_name",
    "email",
    "status",
    "created_at",
)


def pending_columns(migration: ProfileMigration, notice: str = "") -> QuerySet[Connection]:
    """Pending accounts with only the row columns; ``notice`` "sent" / "never" filters by
    whether a reconnect email went out."""
    if not notice:
        return pending(migration).only(*PENDING_COLUMNS)
    rows = pending_with_notices(migration).only(*PENDING_COLUMNS)
    return rows.filter(**{"notice_sent": notice == "sent"})  # pending_with_notices annotates it


def pending_by_offset(migration: ProfileMigration, *, offset: int, limit: int) -> list[Connection]:
    """A page of pending accounts, newest first, by offset (the API). The offset is walked in
    the (profile, -created_at, -id) index alone (an index-only subquery), then only the page's
    rows are read: offset 100,000 costs ~100,000 index entries, not 100,000 table rows."""
    order = ("-created_at", "-id")
    page_ids = pending(migration).order_by(*order).values("id")[offset : offset + limit]
    return list(
        Connection.objects.filter(pk__in=page_ids)
        .order_by(*order)
        .only(
            "id",
            "public_id",
            "origin_owner_id",
            "origin_owner_name",
            "email",
            "status",
            "created_at",
        )
    )


def pending_batches(migration: ProfileMigration, *, size: int) -> Iterator[list[Connection]]:
    """Every pending account in batches by id (the CSV export): memory stays flat."""
    last = 0
    while True:
        batch = list(
            pending(migration).only(*PENDING_COLUMNS).filter(pk__gt=last).order_by("pk")[:size]
        )
        if not batch:
            return
        yield batch
        last = batch[-1].pk


def migrated_recent(migration: ProfileMigration, *, limit: int) -> list[Connection]:
    return list(
        migrated(migration)
        .only(
            "id",
            "public_id",
            "name",
            "origin_owner_id",
            "email",
            "status",
            "moved_at",
            "profile_id",
        )
        .order_by("-moved_at", "-id")[:limit]
    )


def open_migration(migration_id: int) -> ProfileMigration | None:
    """An open migration with what its notices name (the notice task)."""
    return (
        ProfileMigration.objects.select_related("project__organization", "to_profile__connector")
        .filter(pk=migration_id, completed_at__isnull=True)
        .first()
    )


def pending_among(migration: ProfileMigration, connection_ids: list[int]) -> QuerySet[Connection]:
    """The given accounts that are still pending, by id."""
    return pending(migration).filter(pk__in=connection_ids).order_by("pk")


def migration_of(project: Project, migration_id: UUID) -> ProfileMigration | None:
    return migrations_of(project).filter(public_id=migration_id).first()


def notice_totals(migration: ProfileMigration) -> tuple[int, int]:
    """(reconnect emails sent, accounts that got at least one)."""
    totals = MigrationNotice.objects.filter(migration=migration).aggregate(
        sent=Sum("notices_sent"), accounts=Count("pk", filter=Q(notices_sent__gt=0))
    )
    return totals["sent"] or 0, totals["accounts"] or 0


def migratable_profiles(project: Project) -> list[ConnectorProfile]:
    """The project's profiles, for the "start by hand" form."""
    return list(profile_selectors.profiles_of(project).order_by("connector__key", "name", "pk"))


# --- Deadlines and reminders ------------------------------------------------------------------


def open_with_deadline() -> list[int]:
    """Open migrations with a deadline (the scheduler's run), by id."""
    return list(
        ProfileMigration.objects.filter(completed_at__isnull=True, deadline__isnull=False)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


@dataclass(frozen=True)
class ReminderSent:
    day: int
    sent_at: datetime
    count: int


def reminders_of(migration: ProfileMigration) -> list[ReminderSent]:
    return reminders_many([migration])[migration.pk]


def reminders_many(migrations: list[ProfileMigration]) -> dict[int, list[ReminderSent]]:
    """The reminders sent, per migration: per reminder day, when (the first) and to how many
    accounts. One query for all (none when no migration has reminder days)."""
    found: dict[int, list[ReminderSent]] = {m.pk: [] for m in migrations}
    wanted = [m.pk for m in migrations if m.reminder_days]
    if not wanted:
        return found
    rows = (
        MigrationReminder.objects.filter(migration_id__in=wanted)
        .values("migration_id", "day")
        .annotate(first=Min("sent_at"), count=Count("id"))
        .order_by("migration_id", "-day")
    )
    for r in rows:
        found[r["migration_id"]].append(ReminderSent(r["day"], r["first"], r["count"]))
    return found


@dataclass(frozen=True)
class ReminderDay:
    day: int
    due_at: datetime
    sent: ReminderSent | None


def reminder_schedule(migration: ProfileMigration) -> list[ReminderDay]:
    """Each reminder day with when it is due and, once sent, when and to how many."""
    if migration.deadline is None:
        return []
    sent = {r.day: r for r in reminders_of(migration)}
    return [
        ReminderDay(day, migration.deadline - timedelta(days=day), sent.get(day))
        for day in sorted(migration.reminder_days, reverse=True)
    ]
