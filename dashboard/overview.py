"""The project overview: each app's panels, assembled here from its selectors (connections:
figures by status and health, re-authentication trend, recent failures; rollouts: open
migrations and staged rollouts; projects: recent publishes and pin changes; events: failed
deliveries)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.context import project_context
from dashboard.events import panels as event_panels
from dashboard.projects import panels as project_panels
from dashboard.rollouts import panels as rollout_panels
from projects.http import HtmxHttpRequest
from projects.permissions import ProjectAccess, get_project_for_user

from .connections import panels as connection_panels

OVERVIEW_TTL = 30  # seconds: the overview is a glance, not a live view


@require_GET
@login_required
def project_home(request: HtmxHttpRequest, project_slug: str) -> HttpResponse:
    access = get_project_for_user(request.user, project_slug)
    return render(
        request,
        "dashboard/projects/home.html",
        project_context(request, access, nav="home", panels=overview_panels(request, access)),
    )


def assemble(request: HtmxHttpRequest, access: ProjectAccess) -> list[dict[str, Any]]:
    """Every app's panels, by ``order`` (each a dict with ``template``, ``order`` and its own
    entries; an app with nothing to show yet gives none)."""
    found: list[dict[str, Any]] = []
    for part in (
        project_panels.overview_changes(request=request, access=access),
        event_panels.overview(access=access),
        connection_panels.overview_connections(request=request, access=access),
        rollout_panels.overview_migrations(access=access),
        rollout_panels.overview_rollouts(access=access),
    ):
        found.extend(part.get("panels", []))
    return sorted(found, key=lambda panel: panel.get("order", 100))


def overview_panels(request: HtmxHttpRequest, access: ProjectAccess) -> list[dict[str, Any]]:
    """The panels, cached briefly per project and reader (members and viewers see the figures
    of what they may see; admins share one entry)."""
    reader = "admin" if access.can_manage else f"user-{request.user.pk}"
    key = f"overview:{access.project.pk}:{reader}"
    panels = cache.get(key)
    if panels is None:
        panels = assemble(request, access)
        cache.set(key, panels, OVERVIEW_TTL)
    return list(panels)
