"""``connection_counts_repair``: rebuild the connection counters from the rows."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from connections import counters
from projects.selectors import project_by_slug


class Command(BaseCommand):
    help = (
        "Recount the per-profile, per-version, per-status connection counters from the "
        "connections themselves (all projects, or one with --project); prints how many were wrong."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", metavar="SLUG", help="only this project")

    def handle(self, *args: Any, **options: Any) -> None:
        project_id = None
        if options["project"]:
            project = project_by_slug(options["project"])
            if project is None:
                raise CommandError(f"No project with the slug {options['project']}.")
            project_id = project.pk
        wrong = counters.recount(project_id)
        scope = f"project {options['project']}" if project_id else "all projects"
        self.stdout.write(
            f"Connection counters of {scope}: {wrong} corrected."
            if wrong
            else f"Connection counters of {scope}: all correct."
        )
