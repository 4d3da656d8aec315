"""Idempotent demo data. Later parts of the product add their own demo data here."""

import random
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from connections import counters, rbac
from connections.models import Connection, Health, OrgRole, Status, SubjectType
from connections.selectors import visible
from connections.services.connections import (
    connection_create,
    connection_set_org_role,
    grant_set,
    resolved_version,
    split_config,
    tokens_blob,
)
from connectors.builtin_loader import BUILTIN_DIR, version_files
from connectors.models import ConnectorVersion
from profiles.models import ConnectorProfile
from profiles.services import builtin_connectors_load, connector_version_push, profile_create
from projects.crypto import encrypt_json
from projects.models import AuditEntry, Membership, Organization, Project, Role, Team
from projects.services import Actor, organization_create, project_create, team_create
from projects.support import ensure_support_group
from sandbox.demo import (
    sandbox_oauth_tokens,
    seed_sandbox_oauth_profile,
    seed_sandbox_profile,
    stale_sandbox_versions,
)

DEMO_PASSWORD = "connector-hub-demo"
DEMO_ORG = ("acme", "Acme Integrations")
DEMO_PROJECTS = [("acme-production", "Production"), ("acme-staging", "Staging")]
# (username, role, staff?) — every demo user shares DEMO_PASSWORD.
DEMO_USERS = [
    ("demo", Role.OWNER),
    ("alice-admin", Role.ADMIN),
    ("mo-member", Role.MEMBER),
    ("nina-newcomer", Role.MEMBER),  # in no team, no grant: sees no Production connection
    ("vera-viewer", Role.VIEWER),
]
DEMO_TEAMS = {"Support": ["mo-member", "vera-viewer"], "Platform": ["alice-admin"]}


def seed_custom_version(project: Project) -> None:
    """Staging has its own acme_crm 1.1.1 (custom precedence: it wins over built-in 1.1.0)."""
    if ConnectorVersion.objects.filter(project=project, connector__key="acme_crm").exists():
        return
    directory = BUILTIN_DIR / "acme_crm" / "1.1.0"
    files = version_files(directory)
    main = files[0][1].replace(b"version: 1.1.0", b"version: 1.1.1", 1)
    connector_version_push(
        actor=Actor.system(),
        project=project,
        files=[(files[0][0], main), *files[1:]],
        description="Staging build with a fixed contact search.",
    )


# (project, connector, profile name, pin): production follows major lines, staging follows latest.
DEMO_PROFILES = [
    ("acme-production", "acme_crm", "production", "1.x.x"),
    ("acme-production", "orbit_hr", "production", "1.x.x"),
    ("acme-production", "ledgerly", "production", "1.0.1"),
    ("acme-staging", "acme_crm", "staging", "latest"),
    ("acme-staging", "orbit_hr", "staging", None),
]


def seed_profiles() -> None:
    for project_slug, key, name, pin in DEMO_PROFILES:
        project = Project.objects.get(slug=project_slug)
        if not ConnectorProfile.objects.filter(
            project=project, connector__key=key, name=name
        ).exists():
            profile_create(
                actor=Actor.system(), project=project, connector_key=key, name=name, pin=pin
            )


# --- Connections --------------------------------------------------------------------------

DEMO_OWNER_PREFIX = "demo-"
# (project, connector, profile name, how many): 300 in all.
DEMO_CONNECTIONS = [
    ("acme-production", "acme_crm", "production", 110),
    ("acme-production", "orbit_hr", "production", 70),
    ("acme-production", "ledgerly", "production", 50),
    ("acme-staging", "acme_crm", "staging", 45),
    ("acme-staging", "orbit_hr", "staging", 25),
]
_FIRST_NAMES_TEXT = (
    "Ada Ben Chloe Dev Elena Farid Grace Hiro Ines Jonas Kemi Liam Maya Noor Oscar Priya "
    "Quinn Rosa Sven Tara Umar Vera Wen Xavier Yara Zoe Amir Bea Carlos Dana Emil Fatima"
)
FIRST_NAMES = _FIRST_NAMES_TEXT.split()
_LAST_NAMES_TEXT = (
    "Okafor Lindqvist Moreau Tanaka Schmidt Rossi Novak Haddad Kowalski Nakamura Silva "
    "Fischer Dubois Jensen Costa Petrov Walsh Ibrahim Kim Larsen Meyer Nguyen Ortiz Patel"
)
LAST_NAMES = _LAST_NAMES_TEXT.split()
COMPANIES = [
    ("Globex", "globex"),
    ("Initech", "initech"),
    ("Umbrella Logistics", "umbrella"),
    ("Hooli", "hooli"),
    ("Stark Textiles", "stark"),
    ("Wayne Foods", "waynefoods"),
    ("Tyrell Labs", "tyrell"),
    ("Soylent Farms", "soylent"),
    ("Cyberdyne Retail", "cyberdyne"),
    ("Vandelay Imports", "vandelay"),
    ("Pied Piper", "piedpiper"),
    ("Aperture Health", "aperture"),
    ("Oscorp Media", "oscorp"),
    ("Wonka Sweets", "wonka"),
]
HEALTH_ERRORS = {
    Status.NEEDS_REAUTH: ["HTTP 401 from the health check: the credentials were rejected."],
    Status.ERROR: [
        "HTTP 500 from the health check.",
        "HTTP 503 from the health check.",
        "The provider did not answer within 5 seconds.",
        "Could not connect to the provider.",
    ],
}


def _status(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.78:
        return Status.ACTIVE
    if roll < 0.87:
        return Status.NEEDS_REAUTH
    if roll < 0.94:
        return Status.ERROR
    return Status.DISABLED


def _older_versions(profile: ConnectorProfile, current: ConnectorVersion) -> list[ConnectorVersion]:
    """Published versions of the profile's connector below ``current`` in the same major: what
    a connection created a while ago may still have last resolved to."""
    return list(
        ConnectorVersion.objects.visible_to(profile.project)
        .published()
        .filter(
            connector_id=profile.connector_id,
            major=current.major,
            is_prerelease=False,
            version_key__lt=current.version_key,
        )
        .order_by("version_key")
    )


def _demo_connection(
    rng: random.Random,
    n: int,
    profile: ConnectorProfile,
    current: ConnectorVersion,
    older: list[ConnectorVersion],
) -> tuple[Connection, datetime, datetime]:
    """One connection, with the created_at and updated_at to give it after bulk_create (which
    stamps both with now: auto_now_add, auto_now)."""
    now = timezone.now()
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    company, domain = rng.choice(COMPANIES)
    handle = f"{first}.{last}".lower()
    created = now - timedelta(seconds=rng.randint(3600, 90 * 86400))
    # Older connections may still be on an older release of the same major line.
    age_days = (now - created).days
    version = current
    if older and rng.random() < (age_days - 30) / 90:
        # The release just below is the likeliest.
        version = rng.choices(older, weights=range(1, len(older) + 1))[0]
    plain, secret = split_config(
        version,
        {
            "subdomain": domain,
            "region": rng.choice(["us", "eu"]),
            "api_key": f"ak_live_{secrets.token_hex(12)}",
            "username": f"{handle}@{domain}.example",
            "password": secrets.token_urlsafe(16),
            "api_token": f"lg_{secrets.token_hex(16)}",
        },
    )
    tokens = None
    if version.authentication.get("type") == "oauth2":
        tokens = {
            "access_token": f"at_{secrets.token_urlsafe(24)}",
            "refresh_token": f"rt_{secrets.token_urlsafe(24)}",
            "token_type": "Bearer",
            "expires_at": int((now + timedelta(minutes=rng.randint(-600, 60))).timestamp()),
            "scope": "employees.read",
        }
    blob, expiry = tokens_blob(tokens)
    status = _status(rng)
    checked: datetime | None = created + (now - created) * rng.uniform(0.5, 1)
    assert checked is not None
    health, error, last_healthy = Health.UNKNOWN, "", None
    if status == Status.ACTIVE:
        roll = rng.random()
        if roll < 0.8:
            health, last_healthy = Health.HEALTHY, checked
        elif roll < 0.9:
            health, error = Health.UNHEALTHY, rng.choice(HEALTH_ERRORS[Status.ERROR])
            last_healthy = checked - timedelta(hours=rng.randint(1, 48))
        else:
            checked = None
    elif status == Status.NEEDS_REAUTH:
        health, error = Health.NEEDS_REAUTH, HEALTH_ERRORS[Status.NEEDS_REAUTH][0]
        last_healthy = created + (checked - created) / 2
    elif status == Status.ERROR:
        health, error = Health.UNHEALTHY, rng.choice(HEALTH_ERRORS[Status.ERROR])
        last_healthy = created + (checked - created) / 3
    else:
        checked = None
    connection = Connection(
        project=profile.project,
        profile=profile,
        connector_id=profile.connector_id,
        origin_owner_id=f"{DEMO_OWNER_PREFIX}{n:04d}",
        origin_owner_name=f"{first} {last}",
        origin_username=handle,
        email=f"{handle}@{domain}.example",
        name=f"{first} {last} · {company}",
        status=status,
        config_values=plain,
        config_secrets=encrypt_json(secret) if secret else "",
        oauth_tokens=blob,
        token_expires_at=expiry,
        resolved_version=version,
        last_used_at=None if status == Status.DISABLED else now - (now - created) * rng.random(),
        health=health,
        health_checked_at=checked,
        last_healthy_at=last_healthy,
        health_error=error,
    )
    return connection, created, max(created, checked or created)


def seed_connections() -> bool:
    """300 connections across the demo profiles; False when they exist already."""
    projects = Project.objects.filter(slug__in=[p for p, *_ in DEMO_CONNECTIONS])
    if Connection.objects.filter(
        project__in=projects, origin_owner_id__startswith=DEMO_OWNER_PREFIX
    ).exists():
        return False
    rng = random.Random(42)
    rows: list[Connection] = []
    times: dict[str, tuple[datetime, datetime]] = {}
    for project_slug, key, profile_name, count in DEMO_CONNECTIONS:
        profile = ConnectorProfile.objects.select_related("project").get(
            project__slug=project_slug, connector__key=key, name=profile_name
        )
        current = resolved_version(profile)
        older = _older_versions(profile, current)
        for _ in range(count):
            connection, created_at, updated_at = _demo_connection(
                rng, len(rows) + 1, profile, current, older
            )
            rows.append(connection)
            times[connection.origin_owner_id] = (created_at, updated_at)
    created = Connection.objects.bulk_create(rows)
    counters.added(*created)
    for connection in created:
        connection.created_at, connection.updated_at = times[connection.origin_owner_id]
    Connection.objects.bulk_update(created, ["created_at", "updated_at"], batch_size=100)
    seed_reauth_history(rng, created)
    seed_access()
    return True


def seed_reauth_history(rng: random.Random, rows: list[Connection]) -> None:
    """The health checks that moved the demo's needs-reauth connections there, spread over the
    last two weeks (the overview's needs-reauth trend): the audit entry a health check writes
    (connections.services.health), at the time of the connection's last check."""
    actor = Actor.system()
    now = timezone.now()
    entries: list[tuple[AuditEntry, datetime]] = []
    for connection in rows:
        if connection.status != Status.NEEDS_REAUTH:
            continue
        # Within 13 days of now: inside the trend's 14 UTC days at any time of day.
        at = max(connection.created_at, now - timedelta(days=rng.uniform(0, 13)))
        connection.health_checked_at = at
        entry = AuditEntry(
            organization_id=connection.project.organization_id,
            project=connection.project,
            actor_label=actor.label,
            action="connection.health_changed",
            target_type="connection",
            target_id=str(connection.pk),
            target_repr=str(connection)[:200],
            before={"health": Health.HEALTHY, "status": Status.ACTIVE},
            after={
                "health": Health.NEEDS_REAUTH,
                "status": Status.NEEDS_REAUTH,
                "detail": connection.health_error,
            },
        )
        entries.append((entry, at))
    stored = AuditEntry.objects.bulk_create([entry for entry, _at in entries])
    for entry, (_unsaved, at) in zip(stored, entries, strict=True):
        entry.created_at = at
    AuditEntry.objects.bulk_update(stored, ["created_at"], batch_size=100)
    Connection.objects.bulk_update(rows, ["health_checked_at"], batch_size=100)


def seed_access() -> None:
    """In Production: the Support team views 5 connections, mo-member edits 3 others, and 2 are
    open to the whole organization as viewer. Everything else only owners and admins see."""
    actor = Actor.system()
    demo = Connection.objects.filter(
        project__slug="acme-production", origin_owner_id__startswith=DEMO_OWNER_PREFIX
    ).select_related("project")
    support = Team.objects.get(organization__slug=DEMO_ORG[0], name="Support")
    member = Membership.objects.get(organization__slug=DEMO_ORG[0], user__username="mo-member")
    acme = list(demo.filter(connector__key="acme_crm", status=Status.ACTIVE).order_by("id")[:5])
    for connection in acme:
        grant_set(
            actor=actor,
            connection=connection,
            subject_type=SubjectType.TEAM,
            subject_id=support.public_id,
            role="viewer",
        )
    for connection in demo.filter(connector__key="orbit_hr").order_by("id")[:3]:
        grant_set(
            actor=actor,
            connection=connection,
            subject_type=SubjectType.USER,
            subject_id=member.public_id,
            role="editor",
        )
    # The organization-level role, in Staging: there every member sees these two.
    staging = Connection.objects.filter(
        project__slug="acme-staging", origin_owner_id__startswith=DEMO_OWNER_PREFIX
    ).select_related("project")
    for connection in staging.order_by("id")[:2]:
        connection_set_org_role(actor=actor, connection=connection, role=OrgRole.VIEWER)


SANDBOX_CONNECTIONS = [
    # (owner id, name, API key): the first is accepted by the sandbox, the second is refused
    # (Check now → needs re-authentication).
    ("demo-sandbox-1", "Sandbox account (works)", "demo_live_a1b2c3d4e5f6"),
    ("demo-sandbox-2", "Sandbox account (revoked key)", "demo_revoked_0a1b2c3d4e"),
]


def seed_sandbox(project: Project) -> list[str]:
    """Connectors served by this very server (local settings): "Check now" and a whole OAuth
    connect work without internet. Returns the sandbox versions seeded for another SITE_URL."""
    profile = seed_sandbox_profile(project)
    for owner_id, name, key in SANDBOX_CONNECTIONS:
        if not Connection.objects.filter(project=project, origin_owner_id=owner_id).exists():
            connection_create(
                actor=Actor.system(),
                profile=profile,
                origin_owner_id=owner_id,
                origin_owner_name=name,
                email=f"{owner_id}@customer.example",
                config={"api_key": key},
            )
    oauth_profile = seed_sandbox_oauth_profile(project)
    # Three accounts signed in through Sandbox HR, with tokens the sandbox OAuth server issued:
    # their actions (list_employees) run at once, and a migration has someone to notify.
    for n, name in enumerate(["Ada Lovelace", "Grace Hopper", "Alan Turing"], start=1):
        owner_id = f"demo-sandbox-hr-{n}"
        if not Connection.objects.filter(project=project, origin_owner_id=owner_id).exists():
            connection_create(
                actor=Actor.system(),
                profile=oauth_profile,
                origin_owner_id=owner_id,
                origin_owner_name=name,
                email=f"{owner_id}@customer.example",
                config={},
                oauth_tokens=sandbox_oauth_tokens(owner_id),
            )
    return stale_sandbox_versions(project)


def describe_access(organization: Organization) -> list[str]:
    """What each demo user sees, counted through the same permission-scoped selector as the
    pages."""
    projects = list(organization.projects.order_by("name"))
    lines = []
    for username, _role in DEMO_USERS:
        membership = Membership.objects.select_related("user").get(
            organization=organization, user__username=username
        )
        viewer = rbac.Viewer(membership.user, membership)
        seen = ", ".join(f"{visible(viewer, p).count()} in {p.name}" for p in projects)
        how = "all" if viewer.sees_all else "granted only"
        lines.append(f"  {username} ({membership.role}, {how}): {seen}")
    return lines


class Command(BaseCommand):
    help = "Create (or refresh) the demo organization, projects and users; prints the demo login."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        actor = Actor.system()
        users = {}
        for username, _role in DEMO_USERS:
            user, _ = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.com"}
            )
            user.set_password(DEMO_PASSWORD)
            user.save()
            users[username] = user
        demo = users["demo"]
        demo.is_staff = demo.is_superuser = True
        demo.save()
        support, _ = User.objects.get_or_create(
            username="sam-support", defaults={"email": "sam-support@example.com", "is_staff": True}
        )
        support.set_password(DEMO_PASSWORD)
        support.save()
        support.groups.add(ensure_support_group())

        organization = Organization.objects.filter(slug=DEMO_ORG[0]).first()
        if organization is None:
            organization = organization_create(actor=actor, slug=DEMO_ORG[0], name=DEMO_ORG[1])
        for username, role in DEMO_USERS:
            Membership.objects.update_or_create(
                organization=organization, user=users[username], defaults={"role": role}
            )
        for slug, name in DEMO_PROJECTS:
            if not Project.objects.filter(slug=slug).exists():
                project_create(actor=actor, organization=organization, slug=slug, name=name)
        for team_name, members in DEMO_TEAMS.items():
            team = Team.objects.filter(organization=organization, name=team_name).first()
            if team is None:
                team = team_create(actor=actor, organization=organization, name=team_name)
            team.members.add(*(users[m] for m in members))

        published = builtin_connectors_load()
        self.stdout.write(f"Built-in connector versions published: {published}.")
        seed_custom_version(Project.objects.get(slug="acme-staging"))
        seed_profiles()
        if seed_connections():
            self.stdout.write("Demo connections created.")
        if settings.SANDBOX_ENABLED:
            stale = seed_sandbox(Project.objects.get(slug="acme-production"))
            self.stdout.write(
                "Sandbox connectors (served by this server under /sandbox/): sandbox_crm (API "
                "key, Check now works offline) and sandbox_hr (OAuth 2 with PKCE)."
            )
            if stale:
                self.stdout.write(
                    self.style.WARNING(
                        f"These sandbox versions were seeded for another address than SITE_URL "
                        f"{settings.SITE_URL}: {', '.join(stale)}. Their health checks and "
                        "OAuth sign-in call that address. Serve that address again (make run "
                        "HOST=... PORT=...), or seed a fresh database (SQLite: delete "
                        "db.sqlite3, then make run)."
                    )
                )
        total = Connection.objects.filter(
            project__organization=organization, origin_owner_id__startswith=DEMO_OWNER_PREFIX
        ).count()
        self.stdout.write(f"Demo connections: {total}. Who sees what (connections visible):")
        for line in describe_access(organization):
            self.stdout.write(line)

        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(
            f"Log in at {settings.SITE_URL}/ as demo / "
            f"{DEMO_PASSWORD} (organization owner, staff; Django admin at /admin/).\n"
            "Other demo users, same password: alice-admin (admin), mo-member (member, Support "
            "team), nina-newcomer (member without grants), vera-viewer (viewer), sam-support "
            "(support staff, admin view-only)."
        )
