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
    """``latest``: the highest published release; ``default``: what an unpinned profile uses
    (the highest custom release if the project has one, else the highest built-in)."""

    latest_id: int | None
    default_id: int | None


def headline_versions(project: Project, connector: Connector) -> Headline:
    releases = ConnectorVersion.objects.filter(
        connector=connector, published_at__isnull=False, is_prerelease=False
    )
    rows = list(
        releases.filter(Q(project__isnull=True) | Q(project=project))
        .order_by("-version_key", CUSTOM_FIRST)
        .values_list("pk", "project_id")[:1]
    )
    latest_id = rows[0][0] if rows else None
    custom = (
        releases.filter(project=project).order_by("-version_key").values_list("pk", flat=True)[:1]
    )
    builtin = (
        releases.filter(project__isnull=True)
        .order_by("-version_key")
        .values_list("pk", flat=True)[:1]
    )
    custom_ids = list(custom)
    default_id = custom_ids[0] if custom_ids else next(iter(builtin), None)
    return Headline(latest_id=latest_id, default_id=default_id)


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
    # Custom precedence: the project's own version before a built-in one with the same number.
    return versions.order_by(CUSTOM_FIRST).first()
