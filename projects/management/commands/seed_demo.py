"""Idempotent demo data. Later parts of the product add their own demo data here."""

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from connectors.builtin_loader import BUILTIN_DIR, load_builtin_connectors, version_files
from connectors.models import ConnectorVersion
from connectors.services import connector_version_push
from profiles.models import ConnectorProfile
from profiles.services import profile_create
from projects.models import Membership, Organization, Project, Role, Team
from projects.services import Actor, organization_create, project_create, team_create
from projects.support import ensure_support_group

DEMO_PASSWORD = "connector-hub-demo"
DEMO_ORG = ("acme", "Acme Integrations")
DEMO_PROJECTS = [("acme-production", "Production"), ("acme-staging", "Staging")]
# (username, role, staff?) — every demo user shares DEMO_PASSWORD.
DEMO_USERS = [
    ("demo", Role.OWNER),
    ("alice-admin", Role.ADMIN),
    ("mo-member", Role.MEMBER),
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

        published = load_builtin_connectors()
        self.stdout.write(f"Built-in connector versions published: {published}.")
        seed_custom_version(Project.objects.get(slug="acme-staging"))
        seed_profiles()

        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(
            f"Log in at {settings.SITE_URL}/ as demo / "
            f"{DEMO_PASSWORD} (organization owner, staff; Django admin at /admin/).\n"
            "Other demo users, same password: alice-admin (admin), mo-member (member), "
            "vera-viewer (viewer), sam-support (support staff, admin view-only)."
        )
