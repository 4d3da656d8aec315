"""Access to a project for a user: the membership check every app's lookups build on.

Each app owns the ``get_<obj>_for_user`` lookups of its objects (``connectors.permissions``,
``profiles.permissions``, ``connections.permissions``, ...) on top of ``get_project_for_user``.

Another organization's object (or an anonymous user) gets 404 — its existence is not
revealed. A member whose role is too low for the action gets 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import Http404

from .models import ROLE_RANK, ApiKey, Membership, Organization, Project, Role, Team
from .selectors import projects_with_membership, remember_switcher_projects


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


def check_need(membership: Membership, need: Need) -> None:
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
    # One query on every project page: the user's projects, each with its organization and
    # the user's membership of that organization. The list is also the project switcher's
    # (``switcher_projects``), which then needs no query of its own.
    pairs = projects_with_membership(user)
    remember_switcher_projects(user, [project for project, _membership in pairs])
    found = next((pair for pair in pairs if pair[0].slug == slug), None)
    if found is None:
        raise Http404("No such project.")
    project, membership = found
    check_need(membership, need)
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
    check_need(membership, need)
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
