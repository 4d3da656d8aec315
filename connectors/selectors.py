"""Reads of connectors and versions as one project sees them (built-in + its own custom)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce

from projects.models import Project

from .models import Connector, ConnectorVersion

# Orders a project's custom version before a built-in one (NULL project) on every database.
CUSTOM_FIRST = F("project_id").desc(nulls_last=True)


def _highest(project: Project | None, *, builtin: bool) -> Subquery:
    versions = ConnectorVersion.objects.filter(
        connector=OuterRef("pk"), published_at__isnull=False, is_prerelease=False
    )
    versions = (
        versions.filter(project__isnull=True) if builtin else versions.filter(project=project)
    )
    return Subquery(versions.order_by("-version_key").values("version")[:1])


def connectors_for_project(project: Project, *, search: str = "") -> QuerySet[Connector]:
    """Connectors with at least one version visible to the project, with their latest numbers."""
    visible = Q(versions__project__isnull=True, versions__published_at__isnull=False) | Q(
        versions__project=project
    )
    own = ConnectorVersion.objects.filter(connector=OuterRef("pk"), project=project).order_by(
        "-version_key"
    )
    builtin = ConnectorVersion.objects.filter(
        connector=OuterRef("pk"), project__isnull=True, published_at__isnull=False
    )

    def own_info(path: str) -> Subquery:
        return Subquery(own.values(value=KT(f"definition__info__{path}"))[:1])

    connectors = (
        Connector.objects.annotate(
            version_count=Count("versions", filter=visible),
            latest_builtin=_highest(project, builtin=True),
            latest_custom=_highest(project, builtin=False),
            has_builtin=Exists(builtin),
        )
        .filter(version_count__gt=0)
        # The shared row carries the platform's wording; a custom-only connector is shown with
        # this project's own (never another project's).
        .annotate(
            display_title=Case(
                When(has_builtin=True, then=F("title")),
                default=Coalesce(own_info("title"), F("key"), output_field=TextField()),
                output_field=TextField(),
            ),
            display_description=Case(
                When(has_builtin=True, then=F("description")),
                default=Coalesce(own_info("description"), Value(""), output_field=TextField()),
                output_field=TextField(),
            ),
            display_icon=Case(
                When(has_builtin=True, then=F("icon_url")),
                default=Coalesce(own_info("assets__icon"), Value(""), output_field=TextField()),
                output_field=TextField(),
            ),
        )
    )
    if search:
        connectors = connectors.filter(
            Q(key__icontains=search)
            | Q(display_title__icontains=search)
            | Q(display_description__icontains=search)
        )
    return connectors.order_by("display_title", "key")


def versions_for_project(project: Project, connector: Connector) -> QuerySet[ConnectorVersion]:
    """Published built-in versions and all of the project's own versions (drafts included)."""
    return (
        ConnectorVersion.objects.filter(connector=connector)
        .filter(Q(project__isnull=True, published_at__isnull=False) | Q(project=project))
        .select_related("connector", "project")
    )


@dataclass(frozen=True)
class Headline:
    """``latest``: what the ``latest`` pin resolves to (custom precedence, DESIGN.md);
    ``default``: what the project's default profile for the connector resolves to (the
    default resolution when it has none)."""

    latest_id: int | None
    default_id: int | None


def headline_versions(project: Project, connector: Connector) -> Headline:
    from profiles.models import ConnectorProfile  # profiles build on connectors
    from profiles.pins import parse_pin
    from profiles.resolution import resolve_uncached

    latest = resolve_uncached(project, connector.pk, parse_pin("latest"))
    default_profile = ConnectorProfile.objects.filter(
        project=project, connector=connector, is_default=True
    ).first()
    default = (
        resolve_uncached(project, connector.pk, parse_pin(default_profile.pin))
        if default_profile
        else latest
    )
    return Headline(
        latest_id=latest.id if latest else None, default_id=default.id if default else None
    )


def version_by_name(
    project: Project, connector: Connector, name: str, *, owner: str | None = None
) -> ConnectorVersion | None:
    """A version by number, or the aliases ``latest`` / ``default``; custom wins a tie."""
    if name in ("latest", "default"):
        headline = headline_versions(project, connector)
        pk = headline.latest_id if name == "latest" else headline.default_id
        return versions_for_project(project, connector).filter(pk=pk).first() if pk else None
    versions = versions_for_project(project, connector).filter(version=name)
    if owner == "platform":
        versions = versions.filter(project__isnull=True)
    elif owner:
        versions = versions.filter(project__slug=owner)
    # Published before a draft, then custom precedence (the project's own before a built-in).
    return versions.order_by(F("published_at").asc(nulls_last=True), CUSTOM_FIRST).first()
