from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from connectors.definition import MAX_FILE_BYTES, DefinitionError
from profiles.services import connector_version_push
from projects.selectors import project_by_slug
from projects.services import Actor, ServiceError


class Command(BaseCommand):
    help = "Publish a connector definition (main file first, then partials); same rules as the API."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", help="main YAML file, then partial files")
        owner = parser.add_mutually_exclusive_group(required=True)
        owner.add_argument("--builtin", action="store_true", help="publish a built-in version")
        owner.add_argument("--project", help="publish a custom version in this project (slug)")
        parser.add_argument("--force", action="store_true")
        parser.add_argument("--draft", action="store_true")
        parser.add_argument("--acknowledge-breaking", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        project = None
        if options["project"]:
            project = project_by_slug(options["project"])
            if project is None:
                raise CommandError(f"No project with the slug {options['project']}.")
        files = []
        for name in options["files"]:
            path = Path(name)
            if not path.is_file():
                raise CommandError(f"{name}: no such file.")
            if path.stat().st_size > MAX_FILE_BYTES:
                raise CommandError(f"{name}: larger than {MAX_FILE_BYTES:,} bytes.")
            files.append((path.name, path.read_bytes()))
        try:
            result = connector_version_push(
                actor=Actor.system(),
                project=project,
                files=files,
                force=options["force"],
                draft=options["draft"],
                acknowledge_breaking=options["acknowledge_breaking"],
            )
        except DefinitionError as exc:
            details = "".join(f"\n  {e.field}: {e.message}" for e in exc.errors)
            raise CommandError(f"{exc.message}{details}") from exc
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        version = result.version
        state = (
            "draft saved"
            if version.is_draft
            else ("overwritten" if result.overwritten else "published")
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"{version.connector.key} {version.version} ({version.owner}) {state}; "
                f"change level {version.change_level}."
            )
        )
        for message in version.messages:
            self.stdout.write(f"  [{message['severity']}] {message['text']}")
