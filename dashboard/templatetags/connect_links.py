"""``{% link_panel panel %}``: the "Link account" / "Request re-authentication" panel of
``dashboard.connections.links`` (a Jinja2 template) inside a Django page."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from dashboard.connections import links as link_views

register = template.Library()


@register.simple_tag(takes_context=True)
def link_panel(context: template.Context, panel: link_views.LinkPanel | str | None) -> SafeString:
    """The panel with the page's access, CSRF token and migration warnings (the profile and
    connector pages' ``migration_out`` / ``migrating_away``, from the rollouts app)."""
    return link_views.link_panel_html(
        panel,
        access=context["access"],
        csrf_token=str(context.get("csrf_token") or ""),
        migration_out=context.get("migration_out"),
        migrating_away=context.get("migrating_away"),
    )
