"""``seed_bench``: a project with up to a million connections, for the list benchmark.

PostgreSQL only. Rows are generated in Python from a seeded random generator and streamed
with COPY (psycopg 3); for big batches the table's secondary indexes and foreign keys are
dropped first and rebuilt after, in the same transaction (an interrupted run leaves the table
as it was).

Realistic, not real: six profiles on the three built-in connectors, 90 % active, health
consistent with the status, created_at spread over two years in id order, a fifth of the
rows on an older release of the same major, a few rows with an organization-level role and
a member whose team and user grants give them a few hundred connections.

Secrets are real MultiFernet tokens in the project's format, but a small pool of them is
encrypted once and reused (encrypting a million values one by one would dominate the run
and changes nothing the list pages read).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from connections import counters
from connections.models import Connection, Health, OrgRole, Status
from connections.services.connections import resolved_version
from connectors.models import ConnectorVersion
from profiles.models import ConnectorProfile
from profiles.services import builtin_connectors_load, profile_create
from projects.crypto import encrypt_json
from projects.models import Membership, Organization, Project, Role, Team
from projects.services import Actor, organization_create, project_create

BENCH_ORG = "bench"
BENCH_PASSWORD = "bench-password-1"
OWNER = "bench-owner"
MEMBER = "bench-member"
TEAM = "Bench support"
# (connector, profile name, pin, share of the rows)
PROFILES = [
    ("acme_crm", "production", "1.x.x", 0.40),
    ("acme_crm", "eu", "2.x.x", 0.10),
    ("orbit_hr", "production", "1.x.x", 0.20),
    ("orbit_hr", "next", "latest", 0.05),
    ("ledgerly", "production", "1.0.1", 0.20),
    ("ledgerly", "v2", "2.x.x", 0.05),
]
SPAN = timedelta(days=730)
SECRET_POOL = 16
# Below this many new rows the indexes stay in place during COPY.
REBUILD_INDEXES_FROM = 100_000
CHUNK = 20_000
COLUMNS = (
    "public_id",
    "project_id",
    "profile_id",
    "connector_id",
    "origin_owner_id",
    "origin_owner_name",
    "origin_username",
    "email",
    "name",
    "status",
    "config_values",
    "config_secrets",
    "oauth_tokens",
    "token_expires_at",
    "resolved_version_id",
    "last_used_at",
    "health",
    "health_checked_at",
    "last_healthy_at",
    "health_error",
    "org_role",
    "created_at",
    "updated_at",
)
_FIRST_TEXT = (
    "ada ben chloe dev elena farid grace hiro ines jonas kemi liam maya noor oscar priya "
    "quinn rosa sven tara umar vera wen xavier yara zoe amir bea carlos dana emil fatima "
    "gus hana ivan jade kofi lena mateo nia omar pia raj sara theo uma victor willa yusuf "
    "zara"
)
FIRST = _FIRST_TEXT.split()
_LAST_TEXT = (
    "okafor lindqvist moreau tanaka schmidt rossi novak haddad kowalski nakamura silva "
    "fischer dubois jensen costa petrov walsh ibrahim kim larsen meyer nguyen ortiz patel "
    "quist reyes sato torres ueda vargas weber xu young zhang abara bauer chen diaz evans"
)
LAST = _LAST_TEXT.split()
_SYLLABLES_TEXT = "ac al an ar bel bor cor da del dyn en ex fa gen hal in ka lo mar nex or pa"
SYLLABLES = _SYLLABLES_TEXT.split()
ERRORS = {
    Status.NEEDS_REAUTH: "HTTP 401 from the health check: the credentials were rejected.",
    Status.ERROR: "HTTP 503 from the health check.",
}


@dataclass
class Target:
    profile: ConnectorProfile
    current: ConnectorVersion
    older: list[ConnectorVersion]
    share: float
    # version id → (plain config template, pool of encrypted secrets, pool of token blobs)
    secrets: dict[int, list[str]]
    tokens: dict[int, list[str]]


def _text(value: Any) -> str:
    """One COPY text-format field. Generated values hold no tab, newline or backslash."""
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _company(rng: random.Random) -> tuple[str, str]:
    slug = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))
    return slug.title(), slug


class Command(BaseCommand):
    help = "Bulk-generate connections for the benchmark (PostgreSQL, COPY); idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--connections", type=int, default=1_000_000)
        parser.add_argument("--project", default="bench-prod")
        parser.add_argument("--seed", type=int, default=20251123)

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("seed_bench needs PostgreSQL (COPY): set DATABASE_URL.")
        wanted: int = options["connections"]
        if wanted < 0:
            raise CommandError("--connections must be zero or more.")
        rng = random.Random(options["seed"])
        start = time.perf_counter()
        with transaction.atomic():
            project = self.setup(options["project"])
            targets = self.targets(project, rng)
        have = Connection.objects.filter(project=project).count()
        missing = wanted - have
        if missing <= 0:
            counters.recount(project.pk)  # a database seeded before the counters existed
            self.stdout.write(f"{project.slug} has {have:,} connections already (≥ {wanted:,}).")
            return
        with transaction.atomic():
            last_id, timings = self.insert(project, targets, missing, rng)
            self.grant(project, after_id=last_id)
            counters.recount(project.pk)  # the rows came in through COPY
        analyze = time.perf_counter()
        with connection.cursor() as cursor:
            # As autovacuum would on a live database: statistics, and the visibility map that
            # lets counts use index-only scans (VACUUM cannot run inside a transaction).
            vacuum = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
            cursor.execute(f"{vacuum} connections_connection")
            cursor.execute(f"{vacuum} connections_connectiongrant")
        timings["vacuum/analyze"] = time.perf_counter() - analyze
        spent = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
        self.stdout.write(
            self.style.SUCCESS(
                f"Added {missing:,} connections to {project.slug} ({have + missing:,} in all) in "
                f"{time.perf_counter() - start:.1f} s ({spent})."
            )
        )

    # --- Organization, users, profiles --------------------------------------------------------

    def setup(self, slug: str) -> Project:
        actor = Actor.system()
        User = get_user_model()
        users = {}
        for username in (OWNER, MEMBER):
            user, created = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.com"}
            )
            if created:
                user.set_password(BENCH_PASSWORD)
                user.save()
            users[username] = user
        organization = Organization.objects.filter(slug=BENCH_ORG).first()
        if organization is None:
            organization = organization_create(actor=actor, slug=BENCH_ORG, name="Bench")
        Membership.objects.get_or_create(
            organization=organization, user=users[OWNER], defaults={"role": Role.OWNER}
        )
        Membership.objects.get_or_create(
            organization=organization, user=users[MEMBER], defaults={"role": Role.MEMBER}
        )
        team, _ = Team.objects.get_or_create(organization=organization, name=TEAM)
        team.members.add(users[MEMBER])
        project = Project.objects.filter(slug=slug).first()
        if project is None:
            project = project_create(
                actor=actor, organization=organization, slug=slug, name=slug.title()
            )
        elif project.organization_id != organization.pk:
            raise CommandError(f"Project {slug} exists outside the {BENCH_ORG} organization.")
        builtin_connectors_load()
        for key, name, pin, _share in PROFILES:
            if not ConnectorProfile.objects.filter(
                project=project, connector__key=key, name=name
            ).exists():
                profile_create(actor=actor, project=project, connector_key=key, name=name, pin=pin)
        return project

    def targets(self, project: Project, rng: random.Random) -> list[Target]:
        targets = []
        for key, name, _pin, share in PROFILES:
            profile = ConnectorProfile.objects.select_related("project").get(
                project=project, connector__key=key, name=name
            )
            current = resolved_version(profile)
            older = list(
                ConnectorVersion.objects.visible_to(project)
                .published()
                .filter(
                    connector_id=profile.connector_id,
                    major=current.major,
                    is_prerelease=False,
                    version_key__lt=current.version_key,
                )
                .order_by("version_key")
            )
            secrets: dict[int, list[str]] = {}
            tokens: dict[int, list[str]] = {}
            for version in [current, *older]:
                fields = version.authentication.get("configFields") or []
                secret_keys = [f["key"] for f in fields if isinstance(f, dict) and f.get("secret")]
                secrets[version.pk] = [
                    encrypt_json({k: f"bench_{k}_{rng.getrandbits(64):016x}" for k in secret_keys})
                    for _ in range(SECRET_POOL if secret_keys else 0)
                ]
                tokens[version.pk] = [
                    encrypt_json(
                        {
                            "access_token": f"at_bench_{rng.getrandbits(96):024x}",
                            "refresh_token": f"rt_bench_{rng.getrandbits(96):024x}",
                            "token_type": "Bearer",
                            "expires_at": 1_900_000_000,
                            "scope": "employees.read",
                        }
                    )
                    for _ in range(
                        SECRET_POOL if version.authentication.get("type") == "oauth2" else 0
                    )
                ]
            targets.append(Target(profile, current, older, share, secrets, tokens))
        return targets

    # --- Rows -------------------------------------------------------------------------------

    def rows(
        self, project: Project, targets: list[Target], count: int, rng: random.Random
    ) -> Iterator[str]:
        now = datetime.now(tz=UTC)
        begin = now - SPAN
        step = SPAN / max(count, 1)
        weights = [t.share for t in targets]
        for i in range(count):
            target = rng.choices(targets, weights)[0]
            created = begin + step * i + timedelta(seconds=rng.random() * 60)
            age = (now - created) / SPAN  # 0 (new) … 1 (two years old)
            version = target.current
            if target.older and rng.random() < age * 0.45:
                version = rng.choice(target.older)
            first, last = rng.choice(FIRST), rng.choice(LAST)
            company, domain = _company(rng)
            handle = f"{first}.{last}{rng.randint(1, 999)}"
            email = f"{handle}@{domain}.example"
            fields = {
                f["key"]
                for f in version.authentication.get("configFields") or []
                if isinstance(f, dict) and not f.get("secret")
            }
            plain: dict[str, str] = {}
            if "subdomain" in fields:
                plain["subdomain"] = domain
            if "region" in fields:
                plain["region"] = rng.choice(("us", "eu"))
            if "username" in fields:
                plain["username"] = email
            pool = target.secrets[version.pk]
            token_pool = target.tokens[version.pk]
            roll = rng.random()
            status = (
                Status.ACTIVE
                if roll < 0.90
                else Status.NEEDS_REAUTH
                if roll < 0.94
                else Status.ERROR
                if roll < 0.97
                else Status.DISABLED
            )
            checked: datetime | None = created + (now - created) * (0.7 + 0.3 * rng.random())
            health, error, healthy = Health.UNKNOWN, "", None
            if status == Status.ACTIVE:
                if rng.random() < 0.85:
                    health, healthy = Health.HEALTHY, checked
                else:
                    checked = None
            elif status == Status.NEEDS_REAUTH:
                health, error = Health.NEEDS_REAUTH, ERRORS[Status.NEEDS_REAUTH]
            elif status == Status.ERROR:
                health, error = Health.UNHEALTHY, ERRORS[Status.ERROR]
            else:
                checked = None
            org_roll = rng.random()
            org_role = (
                OrgRole.VIEWER if org_roll < 0.002 else OrgRole.EDITOR if org_roll < 0.0025 else ""
            )
            updated = max(created, checked or created)
            values = (
                uuid.uuid4(),
                project.pk,
                target.profile.pk,
                target.profile.connector_id,
                f"usr_{rng.getrandbits(48):012x}",
                f"{first.title()} {last.title()}",
                handle,
                email,
                f"{first.title()} {last.title()} · {company}",
                status,
                json.dumps(plain, separators=(",", ":")),
                pool[i % len(pool)] if pool else "",
                token_pool[i % len(token_pool)] if token_pool else "",
                now + timedelta(hours=1) if token_pool else None,
                version.pk,
                None if status == Status.DISABLED else updated,
                health,
                checked,
                healthy,
                error,
                org_role,
                created,
                updated,
            )
            yield "\t".join(map(_text, values)) + "\n"

    def insert(
        self, project: Project, targets: list[Target], count: int, rng: random.Random
    ) -> tuple[int, dict[str, float]]:
        """COPY ``count`` new rows: (the highest id before them, seconds per step)."""
        timings: dict[str, float] = {}
        rebuild = count >= REBUILD_INDEXES_FROM
        with connection.cursor() as cursor:
            cursor.execute("SELECT coalesce(max(id), 0) FROM connections_connection")
            row = cursor.fetchone()
            last_id = int(row[0]) if row else 0
            indexes: list[tuple[str, str]] = []
            foreign_keys: list[tuple[str, str]] = []
            if rebuild:
                # Foreign keys (checked row by row by deferred triggers otherwise; re-adding one
                # validates every row in a single join) and the secondary indexes (not those
                # behind the primary key or a constraint), rebuilt after the COPY.
                cursor.execute(
                    """
                    SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
                    WHERE conrelid = 'connections_connection'::regclass AND contype = 'f'
                    """
                )
                foreign_keys = [(str(name), str(ddl)) for name, ddl in cursor.fetchall()]
                for name, _ddl in foreign_keys:
                    cursor.execute(f'ALTER TABLE connections_connection DROP CONSTRAINT "{name}"')
                cursor.execute(
                    """
                    SELECT i.relname, pg_get_indexdef(i.oid)
                    FROM pg_index x
                    JOIN pg_class i ON i.oid = x.indexrelid
                    WHERE x.indrelid = 'connections_connection'::regclass
                      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)
                    """
                )
                indexes = [(str(name), str(ddl)) for name, ddl in cursor.fetchall()]
                for name, _ddl in indexes:
                    cursor.execute(f'DROP INDEX "{name}"')
            started = time.perf_counter()
            columns = ", ".join(COLUMNS)
            raw = cursor.cursor  # the psycopg 3 cursor under Django's wrapper
            with raw.copy(f"COPY connections_connection ({columns}) FROM STDIN") as copy:
                chunk: list[str] = []
                for line in self.rows(project, targets, count, rng):
                    chunk.append(line)
                    if len(chunk) == CHUNK:
                        copy.write("".join(chunk))
                        chunk = []
                if chunk:
                    copy.write("".join(chunk))
            timings["COPY"] = time.perf_counter() - started
            if rebuild:
                started = time.perf_counter()
                cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
                for _name, ddl in indexes:
                    cursor.execute(ddl)
                for name, ddl in foreign_keys:
                    cursor.execute(
                        f'ALTER TABLE connections_connection ADD CONSTRAINT "{name}" {ddl}'
                    )
                timings[f"{len(indexes)} indexes, {len(foreign_keys)} foreign keys"] = (
                    time.perf_counter() - started
                )
        return last_id, timings

    def grant(self, project: Project, *, after_id: int) -> None:
        """The bench member's team views every 2,500th new connection, the member edits every
        5,000th one (offset): a few hundred connections at a million rows."""
        team = Team.objects.get(organization__slug=BENCH_ORG, name=TEAM)
        member = get_user_model().objects.get(username=MEMBER)
        with connection.cursor() as cursor:
            # Counted from the first new id, not from ``after_id``: the id sequence may have
            # moved past the highest id (rolled-back inserts, deleted rows).
            cursor.execute(
                "SELECT min(id) FROM connections_connection WHERE project_id = %s AND id > %s",
                [project.pk, after_id],
            )
            row = cursor.fetchone()
            base = int(row[0]) - 1 if row and row[0] is not None else after_id
            cursor.execute(
                """
                INSERT INTO connections_connectiongrant
                    (connection_id, subject_type, team_id, role, created_at, project_id,
                     connection_created_at, connection_org_role)
                SELECT id, 'team', %s, 'viewer', now(), project_id, created_at, org_role
                FROM connections_connection
                WHERE project_id = %s AND id > %s AND (id - %s) %% 2500 = 1
                """,
                [team.pk, project.pk, after_id, base],
            )
            cursor.execute(
                """
                INSERT INTO connections_connectiongrant
                    (connection_id, subject_type, user_id, role, created_at, project_id,
                     connection_created_at, connection_org_role)
                SELECT id, 'user', %s, 'editor', now(), project_id, created_at, org_role
                FROM connections_connection
                WHERE project_id = %s AND id > %s AND (id - %s) %% 5000 = 1250
                """,
                [member.pk, project.pk, after_id, base],
            )
