"""Profiles as a user may see them: another organization's is 404; too low a role is 403."""

from __future__ import annotations

from uuid import UUID

from django.http import Http404

from projects.permissions import Need, ProjectAccess, UserLike, get_project_for_user

from .models import ConnectorProfile


def get_profile_for_user(
    user: UserLike, slug: str, profile_id: UUID, *, need: Need = Need.READ
) -> tuple[ProjectAccess, ConnectorProfile]:
    access = get_project_for_user(user, slug, need=need)
    profile = (
        ConnectorProfile.objects.select_related("connector", "project")
        .filter(public_id=profile_id, project=access.project)
        .first()
    )
    if profile is None:
        raise Http404("No such profile.")
    return access, profile
