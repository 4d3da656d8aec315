"""Who may do what with a connection: per-connection grants on top of the organization role.

- Organization owners and admins, and project API keys, hold every connection as ``owner``.
- Everyone else holds the highest of: their user grant, their teams' grants, and the
  connection's organization-level role. An organization viewer never holds more than
  ``viewer``: viewers never write.

Levels: ``viewer`` reads; ``editor`` renames, checks health, refreshes tokens, disables and
enables; ``owner`` also deletes and manages the grants and the organization-level role.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import connection
from django.db.models import F, Q, QuerySet

from core import baked
from core.lookups import AnyOf, IsBlank
from projects.models import Membership, Role

from .models import GRANT_RANK, Connection, ConnectionGrant, GrantRole


class ConnNeed(IntEnum):
    READ = GRANT_RANK[GrantRole.VIEWER]
    WRITE = GRANT_RANK[GrantRole.EDITOR]
    OWN = GRANT_RANK[GrantRole.OWNER]


ROLE_OF_RANK = {rank: role for role, rank in GRANT_RANK.items()}


@dataclass(frozen=True)
class Viewer:
    """The reader of connections: a member of the project's organization, or an API key
    (``user`` None, full access to its own project)."""

    user: User | AnonymousUser | None
    membership: Membership | None
    # What this viewer's grants were read as, once per viewer (a viewer lives for a request):
    # the granted connections' ids and the best granted rank on each (None: too many to inline).
    _granted: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def sees_all(self) -> bool:
        return self.membership is None or self.membership.can_manage

    @property
    def cap(self) -> int:
        if self.membership is not None and self.membership.role == Role.VIEWER:
            return GRANT_RANK[GrantRole.VIEWER]
        return GRANT_RANK[GrantRole.OWNER]


def _grants_for(user: User | AnonymousUser | None) -> QuerySet[ConnectionGrant]:
    if user is None or not user.is_authenticated:
        return ConnectionGrant.objects.none()
    return _grants_of(user.pk, user.pk)


def _grants_of(user_id: int, member_id: int) -> QuerySet[ConnectionGrant]:
    """The grants to the user ``user_id`` and to the teams ``member_id`` is in (the same user:
    two values, so that a baked query has a stand-in for each place)."""
    return ConnectionGrant.objects.filter(Q(user_id=user_id) | Q(team__members__id=member_id))


# Up to this many granted connections are inlined as ids, so that PostgreSQL combines two
# index scans (grants by id, organization-level roles by a partial index) instead of testing
# a subquery against every row of a million-row project.
INLINE_GRANTS = 5_000


def _grant_rows(user: User | AnonymousUser | None) -> list[tuple[int, str, int, datetime, str]]:
    """(connection id, role, and the connection's project id, creation time and
    organization-level role) of up to twice INLINE_GRANTS of the user's and their teams'
    grants (one query, baked: core.baked)."""
    if user is None or not user.is_authenticated:
        return []
    return baked.rows("rbac.grant_rows", _rows_of, user.pk, user.pk)


def _rows_of(user_id: int, member_id: int) -> QuerySet[ConnectionGrant, Any]:
    grants = _grants_of(user_id, member_id)
    columns = (
        "connection_id",
        "role",
        "project_id",
        "connection_created_at",
        "connection_org_role",
    )
    return grants.order_by().values_list(*columns)[: 2 * INLINE_GRANTS + 1]


def _granted_subquery(viewer: Viewer) -> QuerySet[ConnectionGrant, int]:
    """The ids of the connections granted to the viewer (or a team of theirs), as a subquery."""
    grants = _grants_for(viewer.user).order_by()
    return grants.values_list("connection_id", flat=True).distinct()


def _granted(viewer: Viewer) -> list[int] | None:
    """The ids of the connections granted to the viewer (or a team of theirs), when there are
    at most INLINE_GRANTS (one query, which also reads the granted roles, for ``roles``, and
    where the connections lie, for ``granted_newest``); else None."""
    if "ids" not in viewer._granted:
        # A connection may be granted more than once (to the user and to teams of theirs):
        # up to twice the cap of grant rows, else not inlined.
        rows = _grant_rows(viewer.user)
        ranks: dict[int, int] = {}
        placed: dict[int, tuple[int, datetime, str]] = {}
        for connection_id, role_name, project_id, created_at, org_role in rows:
            ranks[connection_id] = max(ranks.get(connection_id, 0), GRANT_RANK[role_name])
            placed[connection_id] = (project_id, created_at, org_role)
        inline = len(rows) <= 2 * INLINE_GRANTS and len(ranks) <= INLINE_GRANTS
        viewer._granted["ids"] = list(ranks) if inline else None
        viewer._granted["ranks"] = ranks if inline else None
        viewer._granted["placed"] = placed if inline else None
    ids: list[int] | None = viewer._granted["ids"]
    return ids


def scope(viewer: Viewer, connections: QuerySet[Connection]) -> QuerySet[Connection]:
    """``connections`` narrowed to what ``viewer`` may read (lists, counts, detail, API)."""
    if viewer.sees_all:
        return connections
    ids = _granted(viewer)
    if ids is None:
        return connections.filter(~Q(IsBlank(F("org_role"))) | Q(pk__in=_granted_subquery(viewer)))
    return open_or_granted(connections, ids)


def open_or_granted(connections: QuerySet[Connection], ids: list[int]) -> QuerySet[Connection]:
    """A member's scope when their grants are inlined (``granted_ids``): the rows open to the
    organization, and the granted ``ids``."""
    return connections.filter(~Q(IsBlank(F("org_role"))) | Q(AnyOf(F("pk"), ids)))


def scope_parts(
    viewer: Viewer, connections: QuerySet[Connection]
) -> tuple[QuerySet[Connection], QuerySet[Connection]] | None:
    """``scope`` as two disjoint parts for a member whose grants are inlined: the rows open to
    the organization, and the granted rows that are not. Each is read through an index of its
    own (the partial index on org_role, the primary key), so counting them skips the heap
    pages that a bitmap over their union reads. None for those who see all, or for more grants
    than are inlined."""
    ids = granted_ids(viewer)
    if ids is None:
        return None
    return open_to_all(connections), granted_part(connections, ids)


def granted_ids(viewer: Viewer) -> list[int] | None:
    """The ids of the connections granted to a member, when there are few enough to inline
    (``scope_parts``); None for those who see all, or for more grants than are inlined."""
    if viewer.sees_all:
        return None
    return _granted(viewer)


def granted_newest(viewer: Viewer, project_id: int, *, descending: bool) -> list[int] | None:
    """``granted_part``'s ids in the project, by creation time (newest first when
    ``descending``; ties by id, as the list orders them), from the grants already read: their
    copies of the connection's project, creation time and organization-level role, which
    PostgreSQL's foreign key keeps equal to the connection's (ConnectionGrant). None for those
    who see all, for more grants than are inlined, and on other databases (no such key)."""
    if viewer.sees_all or connection.vendor != "postgresql":
        return None
    _granted(viewer)
    placed = viewer._granted["placed"]
    if placed is None:
        return None
    here = [
        (created, pk)
        for pk, (project, created, org_role) in placed.items()
        if project == project_id and org_role == ""
    ]
    here.sort(reverse=descending)
    return [pk for _created, pk in here]


def granted_part(connections: QuerySet[Connection], ids: list[int]) -> QuerySet[Connection]:
    """The granted part of a member's scope: the granted ``ids`` not open to the organization
    (disjoint from ``open_to_all``)."""
    return connections.filter(AnyOf(F("pk"), ids), IsBlank(F("org_role")))


def open_to_all(connections: QuerySet[Connection]) -> QuerySet[Connection]:
    """The connections every member of the organization may read (an organization-level role).
    The empty string is written into the SQL (core.lookups.IsBlank), as in the partial indexes'
    condition, so that a prepared statement's plan can use them."""
    return connections.filter(~Q(IsBlank(F("org_role"))))


def roles(viewer: Viewer, connections: Iterable[Connection]) -> dict[int, str]:
    """The effective role ("owner", "editor", "viewer" or "") on each connection: one query
    for a whole page, none for an admin."""
    rows = list(connections)
    if viewer.sees_all:
        return {c.pk: GrantRole.OWNER.value for c in rows}
    best = {c.pk: GRANT_RANK.get(c.org_role, 0) for c in rows}
    granted_ranks = viewer._granted.get("ranks")
    if granted_ranks is not None:  # read with the scope of this request's list: no query
        for pk in best:
            best[pk] = max(best[pk], granted_ranks.get(pk, 0))
    elif rows:
        for connection_id, role in (
            _grants_for(viewer.user)
            .filter(connection_id__in=[c.pk for c in rows])
            .values_list("connection_id", "role")
        ):
            best[connection_id] = max(best[connection_id], GRANT_RANK[role])
    return {pk: ROLE_OF_RANK[min(rank, viewer.cap)] for pk, rank in best.items()}


def role(viewer: Viewer, connection: Connection) -> str:
    return roles(viewer, [connection])[connection.pk]


def allows(role_name: str, need: ConnNeed) -> bool:
    return GRANT_RANK.get(role_name, 0) >= need
