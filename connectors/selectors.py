"""Reads of connectors and versions as one project sees them (built-in + its own custom)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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

from .models import Connector, ConnectorVersion, ConnectorVersionQuerySet


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


def versions_for_project(project: Project, connector: Connector) -> ConnectorVersionQuerySet:
    """Published built-in versions and all of the project's own versions (drafts included)."""
    return (
        ConnectorVersion.objects.filter(connector=connector)
        .filter(Q(project__isnull=True, published_at__isnull=False) | Q(project=project))
        .select_related("connector", "project")
    )


def connector_for_project(project: Project, key: str) -> Connector | None:
    """A connector the project can see, with its display title and icon."""
    return connectors_for_project(project).filter(key=key).first()


def own_version(project: Project, connector: Connector, version: str) -> ConnectorVersion | None:
    """The project's own (custom) version by number."""
    return (
        ConnectorVersion.objects.filter(connector=connector, project=project, version=version)
        .select_related("connector", "project")
        .first()
    )


def own_version_by_key(project: Project, key: str, version: str) -> ConnectorVersion | None:
    """The project's own version of the connector ``key`` by number."""
    return ConnectorVersion.objects.filter(
        project=project, connector__key=key, version=version
    ).first()


def version_is_visible(project: Project, connector: Connector, version: str) -> bool:
    return versions_for_project(project, connector).filter(version=version).exists()


def versions_total(project: Project, connector: Connector) -> int:
    return versions_for_project(project, connector).count()


def versions_highest_first(project: Project, connector: Connector) -> ConnectorVersionQuerySet:
    """The versions page's rows: ``versions_for_project``, highest number first."""
    return versions_for_project(project, connector).highest_first()


def versions_by_pk(
    project: Project, connector: Connector, pks: Iterable[int]
) -> dict[int, ConnectorVersion]:
    """Those of ``pks`` that the project sees among the connector's versions, by id."""
    return {v.pk: v for v in versions_for_project(project, connector).filter(pk__in=list(pks))}


def version_choices(
    project: Project, connector: Connector, *, limit: int
) -> QuerySet[ConnectorVersion, tuple[int, str, int | None]]:
    """(id, number, owning project id) of the first ``limit`` versions, highest first."""
    versions = versions_highest_first(project, connector)
    return versions.values_list("pk", "version", "project_id")[:limit]


def connector_is_visible(project: Project, key: str) -> bool:
    """Whether the project still sees a version of the connector ``key``."""
    return connectors_for_project(project).filter(key=key).exists()


def definitions_by_pk(pks: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The definitions of the versions ``pks``, by version id (one query)."""
    return dict(ConnectorVersion.objects.filter(pk__in=list(pks)).values_list("pk", "definition"))
