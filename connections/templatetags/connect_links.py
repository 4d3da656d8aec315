"""Template tags that put the connect-link panels on the profile, connector and connection
pages without those pages' views knowing about them (see ``connections.link_views``)."""

from __future__ import annotations

from typing import Any

from django import template

from connections import link_views
from connections.models import Connection
from connectors.models import Connector
from profiles.models import ConnectorProfile

register = template.Library()


@register.inclusion_tag("connections/_link_panel.html", takes_context=True)
def link_account_panel(
    context: template.Context,
    profile: ConnectorProfile | None = None,
    connector: Connector | None = None,
) -> dict[str, Any]:
    """The "Link account" panel for the project's members with write rights; nothing for viewers."""
    access = context.get("access")
    project = context.get("project")
    if access is None or project is None or not access.can_write:
        return {"link": None}
    if profile is not None:
        return {
            "link": link_views.profile_panel(project, profile),
            "access": access,
            "project": project,
        }
    if connector is not None:
        return {
            "link": link_views.connector_panel(project, connector),
            "access": access,
            "project": project,
        }
    return {"link": None}


@register.inclusion_tag("connections/_link_panel.html", takes_context=True)
def reauth_link_panel(context: template.Context) -> dict[str, Any]:
    """The "Request re-authentication" panel for editors of the connection and up."""
    connection = context.get("connection")
    project = context.get("project")
    if connection is None or project is None or not context.get("can_write"):
        return {"link": None}
    panel = link_views.reauth_panel(project, connection)
    return {"link": panel, "access": context.get("access"), "project": project}


@register.simple_tag
def latest_reauth_link(connection: Connection) -> link_views.ReauthLink | None:
    return link_views.latest_reauth_session(connection)
