from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from projects.selectors import organization_by_slug, project_by_slug
from projects.services import Actor, ServiceError, organization_create, project_create


class Command(BaseCommand):
    help = "Create a project (and its organization when missing). Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project_slug")
        parser.add_argument("--organization", default=None, help="organization slug")
        parser.add_argument("--name", default=None, help="project name")

    def handle(self, *args: Any, **options: Any) -> None:
        slug: str = options["project_slug"]
        org_slug: str = options["organization"] or slug
        actor = Actor.system()
        existing = project_by_slug(slug)
        if existing is not None:
            if options["organization"] and existing.organization.slug != org_slug:
                raise CommandError(
                    f"Project {slug} exists in organization {existing.organization.slug}, "
                    f"not {org_slug}."
                )
            self.stdout.write(
                f"Project {slug} exists already (organization {existing.organization.slug})."
            )
            return
        try:
            organization = organization_by_slug(org_slug)
            if organization is None:
                organization = organization_create(
                    actor=actor, slug=org_slug, name=org_slug.replace("-", " ").title()
                )
            project = project_create(
                actor=actor,
                organization=organization,
                slug=slug,
                name=options["name"] or slug.replace("-", " ").title(),
            )
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        except Exception as exc:  # validation errors from full_clean
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Created project {project.slug} in organization {organization.slug}."
            )
        )
