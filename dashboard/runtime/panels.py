"""The runtime's parts of other pages, from its selectors: the version page's Try it forms
and request figures, the connection page's Requests tab."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from connections.models import Connection
from connectors.models import ConnectorVersion
from projects.http import HtmxHttpRequest
from projects.permissions import ProjectAccess
from runtime import selectors


def version_panels(
    *, request: HtmxHttpRequest, access: ProjectAccess, version: ConnectorVersion, **_: Any
) -> dict[str, Any]:
    """Requests this version served (24 h / 7 d, error rate), and Try it when the user may
    edit a connection of this connector."""
    context: dict[str, Any] = {"version_requests": selectors.version_figures(version)}
    if version.is_draft:
        return context
    connections = selectors.try_it_connections(request.user, access, version.connector_id)
    if connections:
        context["try_it"] = {"connections": connections}
    return context


def connection_panels(*, access: ProjectAccess, connection: Connection, **_: Any) -> dict[str, Any]:
    return {
        "requests_url": reverse(
            "connection_requests", args=[access.project.slug, connection.public_id]
        )
    }
