from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from projects.models import ApiKeyScope
from projects.selectors import project_by_slug
from projects.services import Actor, api_key_create


class Command(BaseCommand):
    help = "Create an API key for a project; prints the key alone on its last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project_slug")
        parser.add_argument("--name", default="command line")
        parser.add_argument(
            "--scope",
            choices=[scope.value for scope in ApiKeyScope],
            default=ApiKeyScope.FULL.value,
            help="full (default) or read (GET only in the API)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_by_slug(options["project_slug"])
        if project is None:
            raise CommandError(f"No project with the slug {options['project_slug']}.")
        api_key, raw_key = api_key_create(
            actor=Actor.system(), project=project, name=options["name"], scope=options["scope"]
        )
        self.stderr.write(
            f"API key {api_key.prefix} ({api_key.scope}) for project {project.slug}; "
            "it is shown once:"
        )
        self.stdout.write(raw_key)
