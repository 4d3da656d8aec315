"""Template tags of the connection page: the "Request re-authentication" panel and the
latest re-authentication link (see ``connections.link_views``)."""

from __future__ import annotations

from typing import Any

from django import template

from connections import selectors
from connections.models import Connection
from connections.views import links as link_views

register = template.Library()


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
def latest_reauth_link(connection: Connection) -> selectors.ReauthLink | None:
    return selectors.latest_reauth_session(connection)
