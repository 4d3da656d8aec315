"""The sandbox provider's failure switch: make one version's calls (those under
``/sandbox/api/v/<version>/``) answer 500, or ``off``."""

from typing import Any

from django.core.management.base import BaseCommand

from sandbox.provider import failing_version, set_failing_version


class Command(BaseCommand):
    help = "Make the sandbox fail the calls of one Sandbox HR version (or 'off')."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("version", help="e.g. 1.2.0, or off")

    def handle(self, *args: Any, **options: Any) -> None:
        wanted = options["version"]
        set_failing_version(None if wanted == "off" else wanted)
        now = failing_version()
        self.stdout.write(f"Sandbox calls of version {now} now fail." if now else "No failures.")
