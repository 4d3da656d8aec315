"""Stage Sandbox HR 1.2.0 (or ``--release``) on the demo's Sandbox HR profile in Production: the
profile is held at the version it serves (an exact pin, so the publish moves nobody), the
version is published, and a rollout starts (steps 25 → 50 → 100, one minute's soak, 5
requests; the first account always in the cohort) whose promotion pins ``<major>.x.x`` again.
Idempotent: with a rollout running it says where it stands."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from connections.models import Connection
from connections.services.pins import profile_set_pin
from profiles.models import ConnectorProfile
from profiles.serving import stable_version
from projects.selectors import project_by_slug
from projects.services import Actor
from rollouts.gate import active_rollout
from rollouts.services.staged import Settings, rollout_start
from sandbox.demo import OAUTH_KEY, demo_release, sandbox_oauth_definition


class Command(BaseCommand):
    help = "Publish Sandbox HR 1.2.0 in acme-production and start a staged rollout of it."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--project", default="acme-production")
        parser.add_argument("--release", default="1.2.0", help="the version to publish and stage")

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_by_slug(options["project"])
        if project is None:
            raise CommandError(f"No project {options['project']}; run seed_demo first.")
        profile = (
            ConnectorProfile.objects.select_related("project", "connector")
            .filter(project=project, connector__key=OAUTH_KEY)
            .order_by("-is_default", "name")
            .first()
        )
        if profile is None:
            raise CommandError("The project has no Sandbox HR profile; run seed_demo first.")
        url = settings.SITE_URL.rstrip("/") + reverse(
            "profile_detail", args=[project.slug, profile.public_id]
        )
        running = active_rollout(profile)
        if running is not None:
            self.stdout.write(
                f"A rollout to {running.to_version.version} is {running.state} at "
                f"{running.percent} %: {url}"
            )
            return
        actor = Actor.system()
        current = stable_version(profile)
        if current is not None and profile.pin != current.version:
            profile = profile_set_pin(actor=actor, profile=profile, pin=current.version)
        version = demo_release(
            project.slug,
            options["release"],
            sandbox_oauth_definition(options["release"], versioned=True),
            "The same actions; its calls go through /sandbox/api/v/<version>/, where "
            "`manage.py sandbox_failure` can make them fail.",
        )
        first = Connection.objects.filter(profile=profile).order_by("pk").first()
        rollout = rollout_start(
            actor=actor,
            profile=profile,
            to_version=version.version,
            keep_pin=False,
            target_pin=f"{version.major}.x.x",
            knobs=Settings(steps=[25, 50, 100], min_soak_minutes=1, min_requests=5),
            include=[first.public_id] if first else [],
        )
        self.stdout.write(
            f"Rollout of Sandbox HR {rollout.from_version.version} → {version.version} started "
            f"at {rollout.percent} % ({rollout.cohort_size} of the profile's accounts).\n"
            f"Watch it: {url}\n"
            f"Break it: .venv/bin/python manage.py sandbox_failure {version.version}"
        )
