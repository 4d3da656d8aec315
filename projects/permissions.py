"""The one place where views and API calls fetch tenant objects for a user.

Another organization's object (or an anonymous user) gets 404 — its existence is not
revealed. A member whose role is too low for the action gets 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import Http404

if TYPE_CHECKING:
    from connections.models import Connection
    from connectors.models import Connector, ConnectorVersion
    from profiles.models import ConnectorProfile

from .models import ROLE_RANK, ApiKey, Membership, Organization, Project, Role, Team


class Need(IntEnum):
    """What the caller is about to do; compared with the member's role rank."""

    READ = ROLE_RANK[Role.VIEWER]
    WRITE = ROLE_RANK[Role.MEMBER]
    MANAGE = ROLE_RANK[Role.ADMIN]
    OWN = ROLE_RANK[Role.OWNER]


@dataclass(frozen=True)
class ProjectAccess:
    project: Project
    membership: Membership

    @property
    def organization(self) -> Organization:
        return self.project.organization

    @property
    def role(self) -> str:
        return self.membership.role

    @property
    def can_write(self) -> bool:
        return self.membership.can_write

    @property
    def can_manage(self) -> bool:
        return self.membership.can_manage


UserLike = User | AnonymousUser


def _check(membership: Membership, need: Need) -> None:
    if membership.rank < need:
        raise PermissionDenied(
            f"Your role ({membership.get_role_display()}) does not allow this action."
        )


def get_membership(user: UserLike, organization_id: int) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, organization_id=organization_id).first()


def get_project_for_user(user: UserLike, slug: str, *, need: Need = Need.READ) -> ProjectAccess:
    if not user.is_authenticated:
        raise Http404("No such project.")
    membership = (
        Membership.objects.select_related("organization")
        .filter(user=user, organization__projects__slug=slug)
        .first()
    )
    if membership is None:
        raise Http404("No such project.")
    project = Project.objects.get(slug=slug)
    project.organization = membership.organization
    _check(membership, need)
    return ProjectAccess(project=project, membership=membership)


def get_organization_for_user(
    user: UserLike, slug: str, *, need: Need = Need.READ
) -> tuple[Organization, Membership]:
    if not user.is_authenticated:
        raise Http404("No such organization.")
    membership = (
        Membership.objects.select_related("organization")
        .filter(user=user, organization__slug=slug)
        .first()
    )
    if membership is None:
        raise Http404("No such organization.")
    _check(membership, need)
    return membership.organization, membership


def get_member_for_user(
    user: UserLike, slug: str, membership_id: int, *, need: Need = Need.MANAGE
) -> tuple[ProjectAccess, Membership]:
    access = get_project_for_user(user, slug, need=need)
    try:
        target = Membership.objects.select_related("user").get(
            pk=membership_id, organization_id=access.project.organization_id
        )
    except Membership.DoesNotExist as exc:
        raise Http404("No such member.") from exc
    return access, target


def get_team_for_user(
    user: UserLike, slug: str, team_id: int, *, need: Need = Need.MANAGE
) -> tuple[ProjectAccess, Team]:
    access = get_project_for_user(user, slug, need=need)
    try:
        team = Team.objects.get(pk=team_id, organization_id=access.project.organization_id)
    except Team.DoesNotExist as exc:
        raise Http404("No such team.") from exc
    return access, team


def get_api_key_for_user(
    user: UserLike, slug: str, api_key_id: int, *, need: Need = Need.MANAGE
) -> tuple[ProjectAccess, ApiKey]:
    access = get_project_for_user(user, slug, need=need)
    try:
        api_key = ApiKey.objects.get(pk=api_key_id, project=access.project)
    except ApiKey.DoesNotExist as exc:
        raise Http404("No such API key.") from exc
    return access, api_key


def get_connector_for_user(
    user: UserLike, slug: str, key: str, *, need: Need = Need.READ
) -> tuple[ProjectAccess, Connector]:
    """A connector with at least one version the project can see (built-in or its own)."""
    from connectors.selectors import connectors_for_project

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
    from connectors.selectors import versions_for_project

    access, connector = get_connector_for_user(user, slug, key, need=need)
    version = versions_for_project(access.project, connector).filter(pk=version_id).first()
    if version is None or (own and version.project_id != access.project.pk):
        raise Http404("No such version of this project.")
    version.connector = connector  # the project's view of it (display title and icon)
    return access, version


def get_profile_for_user(
    user: UserLike, slug: str, profile_id: int, *, need: Need = Need.READ
) -> tuple[ProjectAccess, ConnectorProfile]:
    from profiles.models import ConnectorProfile

    access = get_project_for_user(user, slug, need=need)
    profile = (
        ConnectorProfile.objects.select_related("connector", "project")
        .filter(pk=profile_id, project=access.project)
        .first()
    )
    if profile is None:
        raise Http404("No such profile.")
    return access, profile


def get_connection_for_user(
    user: UserLike, slug: str, connection_id: int, *, need: int | None = None
) -> tuple[ProjectAccess, Connection, str]:
    """A connection of the project that the user may read, with the user's role on it.

    Not visible to the user (another project, no grant, no organization-level role) → 404;
    visible but the role is below ``need`` (a ``connections.rbac.ConnNeed``) → 403."""
    from connections import rbac
    from connections.selectors import connections_of

    access = get_project_for_user(user, slug)
    viewer = rbac.Viewer(user=user, membership=access.membership)
    connection = rbac.scope(viewer, connections_of(access.project)).filter(pk=connection_id).first()
    if connection is None:
        raise Http404("No such connection.")
    role = rbac.role(viewer, connection)
    if need is not None and not rbac.allows(role, rbac.ConnNeed(need)):
        raise PermissionDenied(
            f"Your access to this connection ({role or 'none'}) does not allow this action."
        )
    return access, connection, role
