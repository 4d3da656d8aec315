"""What the profiles app adds to the connector pages: the ``latest`` / ``default`` badges and
the publish preview's "profiles that would move" (registered in ``ProfilesConfig.ready()``)."""

from __future__ import annotations

from typing import Any

from connectors.models import Connector, ConnectorVersion
from connectors.services import PushPreview
from projects.models import Project
from projects.permissions import ProjectAccess

from . import selectors


def connector_headline(*, access: ProjectAccess, connector: Connector, **_: Any) -> dict[str, Any]:
    return {"headline": selectors.headline_versions(access.project, connector)}


def version_headline(
    *, access: ProjectAccess, version: ConnectorVersion, **_: Any
) -> dict[str, Any]:
    return {"headline": selectors.headline_versions(access.project, version.connector)}


def publish_moves(*, project: Project, preview: PushPreview, **_: Any) -> dict[str, Any]:
    return {"moves": selectors.profiles_moved_by_publish(project, preview)}
