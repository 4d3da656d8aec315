"""Publish Sandbox HR 1.1.0 in the demo's Production project: the same actions with a changed
mapping (``name`` becomes "Family, Given"), a patch-level change. Accounts on the ``1.x.x``
profile answer from 1.1.0 on their next request. Idempotent."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from connectors.selectors import own_version_by_key
from connectors.services import connector_version_push
from projects.selectors import project_by_slug
from projects.services import Actor
from sandbox.demo import OAUTH_KEY, sandbox_oauth_definition

CHANGED_NAME = "{{$.last_name + ', ' + $.first_name}}"


class Command(BaseCommand):
    help = "Publish Sandbox HR 1.1.0 (a changed name mapping) in acme-production."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--project", default="acme-production")

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_by_slug(options["project"])
        if project is None:
            raise CommandError(f"No project {options['project']}; run seed_demo first.")
        version = own_version_by_key(project, OAUTH_KEY, "1.1.0")
        if version is None:
            version = connector_version_push(
                actor=Actor.system(),
                project=project,
                files=[
                    (
                        "sandbox_hr.yaml",
                        sandbox_oauth_definition("1.1.0", employee_name=CHANGED_NAME),
                    )
                ],
                description="Employee names as “Family, Given”.",
            ).version
        self.stdout.write(
            f"Sandbox HR {version.version} published (change {version.change_level})."
        )
