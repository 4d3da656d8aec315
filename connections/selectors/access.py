"""Who may use a connection: its grants, the organization's teams, the profiles a link can
offer."""

from __future__ import annotations

from typing import Any, NamedTuple
from uuid import UUID

from django.db.models import (
    F,
    OuterRef,
    QuerySet,
    Subquery,
    UUIDField,
)
from django.db.models.functions import Coalesce

from core import baked
from profiles.models import ConnectorProfile
from projects.models import Membership, Project, Team

from ..models import (
    Connection,
    ConnectionGrant,
)


def grants_of(connection: Connection) -> QuerySet[ConnectionGrant]:
    """The connection's grants with their subjects (the Access tab and the rbac endpoint)."""
    # A user's public id in RBAC bodies is their membership's in the connection's organization.
    member_id = Membership.objects.filter(
        user_id=OuterRef("user_id"),
        organization_id=OuterRef("connection__project__organization_id"),
    ).values("public_id")[:1]
    return (
        ConnectionGrant.objects.filter(connection_id=connection.pk)
        .select_related("user", "team")
        .annotate(
            subject_public_id=Coalesce(
                Subquery(member_id), F("team__public_id"), output_field=UUIDField()
            )
        )
        .order_by("subject_type", "id")
    )


def teams_of(organization_id: int) -> QuerySet[Team]:
    """The organization's teams by name (who can be granted access)."""
    return Team.objects.filter(organization_id=organization_id).order_by("name")


class LinkProfile(NamedTuple):
    """A profile as the link panels' select shows it (no setup values or secrets)."""

    public_id: UUID
    name: str
    is_default: bool


def connector_profiles(project: Project, connector_id: int) -> list[LinkProfile]:
    """The project's profiles of one connector, the default first, then by name: the link
    panels' choices, so only what they show. Plain tuples, baked (core.baked): as deferred
    model instances they cost ~0.9 ms of CPU on every connection page (bench/connections.py)."""
    found = baked.rows("link_profiles", _link_profiles, project.pk, connector_id)
    return [LinkProfile(*row) for row in found]


def _link_profiles(
    project_id: int, connector_id: int
) -> QuerySet[ConnectorProfile, tuple[Any, ...]]:
    return (
        ConnectorProfile.objects.filter(project_id=project_id, connector_id=connector_id)
        .order_by("-is_default", "name", "pk")
        .values_list("public_id", "name", "is_default")
    )
