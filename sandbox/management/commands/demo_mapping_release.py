"""Publish Sandbox HR 1.1.0 in the demo's Production project: the same actions with a changed
mapping (``name`` becomes "Family, Given"), a patch-level change. Accounts on the ``1.x.x``
profile answer from 1.1.0 on their next request. Idempotent."""

from typing import Any

from django.core.management.base import BaseCommand

from sandbox.demo import demo_release, sandbox_oauth_definition

CHANGED_NAME = "{{$.last_name + ', ' + $.first_name}}"


class Command(BaseCommand):
    help = "Publish Sandbox HR 1.1.0 (a changed name mapping) in acme-production."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--project", default="acme-production")

    def handle(self, *args: Any, **options: Any) -> None:
        version = demo_release(
            options["project"],
            "1.1.0",
            sandbox_oauth_definition("1.1.0", employee_name=CHANGED_NAME),
            "Employee names as “Family, Given”.",
        )
        self.stdout.write(
            f"Sandbox HR {version.version} published (change {version.change_level})."
        )
