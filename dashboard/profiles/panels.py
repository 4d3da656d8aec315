"""The profiles app's parts of the connector pages: the ``latest`` / ``default`` badges and
the publish preview's "profiles that would move", from its selectors."""

from __future__ import annotations

from typing import Any

from connectors.models import Connector, ConnectorVersion
from connectors.services import PushPreview
from profiles import selectors
from projects.models import Project
from projects.permissions import ProjectAccess


def connector_headline(*, access: ProjectAccess, connector: Connector, **_: Any) -> dict[str, Any]:
    return {"headline": selectors.headline_versions(access.project, connector)}


def version_headline(
    *, access: ProjectAccess, version: ConnectorVersion, **_: Any
) -> dict[str, Any]:
    return {"headline": selectors.headline_versions(access.project, version.connector)}


def _major(version: str) -> str:
    return version.split(".", 1)[0]


def publish_moves(*, project: Project, preview: PushPreview, **_: Any) -> dict[str, Any]:
    """The profiles a publish moves, and those of them it moves across a major or an
    authentication change (the upload page asks to confirm those; the dashboard counts their
    connections)."""
    moves = selectors.profiles_moved_by_publish(project, preview)
    new_major = _major(preview.parsed.version)
    guarded = [
        move
        for move in moves
        if move.current is not None
        and (_major(move.current.version) != new_major or preview.report.reauth_required)
    ]
    return {"moves": moves, "guarded_moves": guarded}
