"""``seed_bench_migration``: the profile-migration scenario on the bench database.

Runs after ``seed_bench`` (a million connections in bench-prod). Creates two profiles of the
``acme_crm`` connector — "legacy" (1.x.x) and "v2" (2.x.x) — and an open migration from legacy
to v2 started three weeks ago, then moves rows of the "production" profile so that exactly
``--pending`` connections are on legacy (pending) and ``--migrated`` were moved to v2 by a
re-authentication since the start (``moved_from_profile``, ``moved_at`` spread over the three
weeks). Every fourth pending account was sent one notice (its link since expired, as after a
first mailing) and the newest ``--links`` pending accounts hold a valid reconnect link.

Rows are chosen by a hash of their id (spread over the two years of ``created_at``), the same
ones in every run. Idempotent: when the counts are already right nothing moves; otherwise the
three profiles' rows are put back on "production" and dealt again. PostgreSQL only.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from connections import counters
from connections.models import Connection
from connections.services.connections import resolved_version
from profiles.models import ConnectorProfile
from profiles.services import profile_create
from projects.models import Project
from projects.services import Actor
from rollouts import selectors as migration_selectors
from rollouts.models import MigrationNotice, ProfileMigration
from rollouts.services import migration_create, migration_link

CONNECTOR = "acme_crm"
SOURCE = "production"  # seed_bench's profile the rows are taken from
LEGACY = ("legacy", "1.x.x")
TARGET = ("v2", "2.x.x")
TITLE = "Move off the legacy Acme CRM profile"
MESSAGE = "Acme CRM changed how apps sign in. Please reconnect your account: it takes a minute."
STARTED_DAYS_AGO = 21


class Command(BaseCommand):
    help = "Set up the profile-migration benchmark scenario on the bench database; idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", default="bench-prod")
        parser.add_argument("--pending", type=int, default=200_000)
        parser.add_argument("--migrated", type=int, default=50_000)
        parser.add_argument("--links", type=int, default=20)

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("seed_bench_migration needs PostgreSQL: set DATABASE_URL.")
        pending, migrated = options["pending"], options["migrated"]
        if pending < 0 or migrated < 0:
            raise CommandError("--pending and --migrated must be zero or more.")
        start = time.perf_counter()
        project = Project.objects.filter(slug=options["project"]).first()
        if project is None:
            raise CommandError(f"No project {options['project']}: run seed_bench first.")
        with transaction.atomic():
            migration = self.migration(project)
        progress = migration_selectors.progress(migration)
        if (progress.pending, progress.migrated) != (pending, migrated):
            with transaction.atomic():
                self.deal(migration, pending, migrated)
                self.notices(migration)
                counters.recount(project.pk)  # the rows were moved in SQL
            with connection.cursor() as cursor:
                # As autovacuum would after a mass update (visibility map for index-only counts).
                cursor.execute("VACUUM (ANALYZE) connections_connection")
                cursor.execute("VACUUM (ANALYZE) profiles_migrationnotice")
        links = self.links(migration, options["links"])
        progress = migration_selectors.progress(migration)
        self.stdout.write(
            self.style.SUCCESS(
                f"Migration {migration.pk} “{migration.title}” in {project.slug}: "
                f"{progress.pending:,} pending, {progress.migrated:,} migrated "
                f"({progress.percent}%), {links} valid reconnect links; "
                f"{time.perf_counter() - start:.1f} s."
            )
        )

    # --- Profiles and the migration -----------------------------------------------------------

    def profile(self, project: Project, name: str, pin: str) -> ConnectorProfile:
        found = ConnectorProfile.objects.filter(
            project=project, connector__key=CONNECTOR, name=name
        ).first()
        if found is not None:
            return found
        return profile_create(
            actor=Actor.system(), project=project, connector_key=CONNECTOR, name=name, pin=pin
        )

    def migration(self, project: Project) -> ProfileMigration:
        legacy = self.profile(project, *LEGACY)
        target = self.profile(project, *TARGET)
        existing = migration_selectors.migrations_of(project).filter(
            from_profile=legacy, to_profile=target, completed_at__isnull=True
        )
        migration = existing.first()
        if migration is None:
            migration = migration_create(
                actor=Actor.system(),
                project=project,
                from_profile=legacy,
                to_profile=target,
                title=TITLE,
                message=MESSAGE,
                deadline=timezone.now() + timedelta(days=30),
            )
            started = timezone.now() - timedelta(days=STARTED_DAYS_AGO)
            ProfileMigration.objects.filter(pk=migration.pk).update(started_at=started)
            migration = existing.get()
        return migration

    # --- Rows -------------------------------------------------------------------------------

    def deal(self, migration: ProfileMigration, pending: int, migrated: int) -> None:
        """Put the rows of production, legacy and v2 back on production, then move the first
        ``pending`` (by hash) to legacy and the next ``migrated`` to v2 as re-authenticated."""
        project = migration.project
        source = ConnectorProfile.objects.get(
            project=project, connector__key=CONNECTOR, name=SOURCE
        )
        legacy, target = migration.from_profile, migration.to_profile
        source_version = resolved_version(source)
        target_version = resolved_version(target)
        MigrationNotice.objects.filter(migration=migration).delete()
        started = time.perf_counter()
        Connection.objects.filter(project=project, profile__in=[legacy, target]).update(
            profile=source, resolved_version=source_version
        )
        Connection.objects.filter(project=project, moved_from_profile=legacy).update(
            moved_from_profile=None, moved_at=None
        )
        pool = Connection.objects.filter(project=project, profile=source).count()
        if pool < pending + migrated:
            raise CommandError(
                f"{SOURCE} holds {pool:,} connections; {pending + migrated:,} are needed."
            )
        with connection.cursor() as cursor:
            cursor.execute(
                # moved_at: the start plus a stable fraction of [0, 1) per row (from a hash of
                # its id by multiplicative hashing), skewed towards recent days.
                """
                WITH dealt AS (
                    SELECT c.id, row_number() OVER (ORDER BY md5(c.id::text), c.id) AS n
                    FROM connections_connection c
                    WHERE c.project_id = %s AND c.profile_id = %s
                )
                UPDATE connections_connection c SET
                    profile_id = CASE WHEN dealt.n <= %s THEN %s ELSE %s END,
                    resolved_version_id = CASE WHEN dealt.n <= %s
                        THEN c.resolved_version_id ELSE %s END,
                    moved_from_profile_id = CASE WHEN dealt.n <= %s THEN NULL ELSE %s END,
                    moved_at = CASE WHEN dealt.n <= %s THEN NULL ELSE
                        %s + (now() - %s) * power(mod(c.id * 2654435761, 1000003) / 1000003.0, 1.5)
                    END
                FROM dealt
                WHERE c.id = dealt.id AND dealt.n <= %s
                """,
                [
                    project.pk,
                    source.pk,
                    pending,
                    legacy.pk,
                    target.pk,
                    pending,
                    target_version.pk,
                    pending,
                    legacy.pk,
                    pending,
                    migration.started_at,
                    migration.started_at,
                    pending + migrated,
                ],
            )
        self.stdout.write(
            f"Moved {pending:,} connections to {legacy.name} and {migrated:,} to "
            f"{target.name} in {time.perf_counter() - started:.1f} s."
        )

    def notices(self, migration: ProfileMigration) -> None:
        """Every fourth pending account was sent one notice in the first days; its link has
        expired since (no session kept)."""
        with connection.cursor() as cursor:
            cursor.execute(
                # last_sent_at: within two days of the start (a stable fraction per row).
                """
                INSERT INTO profiles_migrationnotice
                    (migration_id, connection_id, link_token, link_expires_at, notices_sent,
                     last_sent_at, created_at)
                SELECT %s, c.id, '', %s, 1,
                    %s + interval '2 days' * (mod(c.id * 40503, 65521) / 65521.0), %s
                FROM connections_connection c
                WHERE c.project_id = %s AND c.profile_id = %s AND c.id %% 4 = 0
                """,
                [
                    migration.pk,
                    migration.started_at + timedelta(days=5),
                    migration.started_at,
                    migration.started_at,
                    migration.project_id,
                    migration.from_profile_id,
                ],
            )

    def links(self, migration: ProfileMigration, count: int) -> int:
        """Valid reconnect links for the newest ``count`` pending accounts (kept while valid,
        replaced once expired: migration_link's own rule)."""
        newest = migration_selectors.pending(migration).order_by("-created_at", "-id")[:count]
        for account in newest:
            migration_link(actor=Actor.system(), migration=migration, connection=account)
        return len(newest)
