"""Connections as a user may see them: not visible (another project, no grant, no
organization-level role) is 404; visible with too low a role is 403."""

from __future__ import annotations

from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.http import Http404

from projects.permissions import ProjectAccess, UserLike, get_project_for_user

from . import rbac
from .models import Connection
from .selectors import page_row


def get_connection_for_user(
    user: UserLike, slug: str, connection_id: UUID, *, need: int | None = None
) -> tuple[ProjectAccess, Connection, str]:
    """A connection of the project that the user may read, with the user's role on it.

    Not visible to the user (another project, no grant, no organization-level role) → 404;
    visible but the role is below ``need`` (a ``connections.rbac.ConnNeed``) → 403."""
    access = get_project_for_user(user, slug)
    viewer = rbac.Viewer(user=user, membership=access.membership)
    connection = page_row(viewer, access.project, connection_id)
    if connection is None:
        raise Http404("No such connection.")
    role = rbac.role(viewer, connection)
    if need is not None and not rbac.allows(role, rbac.ConnNeed(need)):
        raise PermissionDenied(
            f"Your access to this connection ({role or 'none'}) does not allow this action."
        )
    return access, connection, role
