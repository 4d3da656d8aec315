"""Connectors and versions as a user may see them: another organization's (or a project's
custom version seen from another project) is 404; too low a role is 403."""

from __future__ import annotations

from django.http import Http404

from projects.permissions import Need, ProjectAccess, UserLike, get_project_for_user

from .models import Connector, ConnectorVersion
from .selectors import connectors_for_project, versions_for_project


def get_connector_for_user(
    user: UserLike, slug: str, key: str, *, need: Need = Need.READ
) -> tuple[ProjectAccess, Connector]:
    """A connector with at least one version the project can see (built-in or its own)."""
    access = get_project_for_user(user, slug, need=need)
    connector = connectors_for_project(access.project).filter(key=key).first()
    if connector is None:
        raise Http404("No such connector.")
    return access, connector


def get_connector_version_for_user(
    user: UserLike,
    slug: str,
    key: str,
    version_id: int,
    *,
    need: Need = Need.READ,
    own: bool = False,
) -> tuple[ProjectAccess, ConnectorVersion]:
    """A built-in version or one of this project's own (only its own with ``own=True``, for
    writes); another project's version is 404."""
    access, connector = get_connector_for_user(user, slug, key, need=need)
    version = versions_for_project(access.project, connector).filter(pk=version_id).first()
    if version is None or (own and version.project_id != access.project.pk):
        raise Http404("No such version of this project.")
    version.connector = connector  # the project's view of it (display title and icon)
    return access, version
