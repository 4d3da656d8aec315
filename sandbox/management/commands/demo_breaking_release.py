"""Publish Sandbox HR 2.0.0 in the demo's Production project: it asks for one more OAuth scope,
so its change report says "connections must re-authenticate" and the version page offers to
start a migration. Idempotent."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.urls import reverse

from sandbox.demo import OAUTH_KEY, demo_release, sandbox_oauth_definition


class Command(BaseCommand):
    help = "Publish a breaking Sandbox HR 2.0.0 (an added OAuth scope) in acme-production."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--project", default="acme-production")

    def handle(self, *args: Any, **options: Any) -> None:
        version = demo_release(
            options["project"],
            "2.0.0",
            sandbox_oauth_definition("2.0.0", ("contacts.read", "contacts.write")),
            "Asks for contacts.write too: every account must reconnect.",
        )
        path = reverse("version_detail", args=[options["project"], OAUTH_KEY, version.pk])
        url = settings.SITE_URL.rstrip("/") + path
        self.stdout.write(
            f"Sandbox HR {version.version}: change {version.change_level}, re-authentication "
            f"required: {'yes' if version.reauth_required else 'no'}.\nOpen {url} and choose "
            "“Create a profile pinned to 2.x.x and migrate”."
        )
