"""The connection page: overview (health, masked credentials, activity), its Access tab, and
the actions on one connection (check now, rename, disable/enable, token refresh, delete).

Reads go through ``get_connection_for_user`` (the same RBAC scope as the API); writes
through the services.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from connections import rbac, selectors
from connections.models import Connection, GrantRole, Health, OrgRole, Status
from connections.permissions import get_connection_for_user
from connections.rbac import ConnNeed
from connections.selectors import teams_of
from connections.services import connections as services
from connections.services import health, tokens
from core.forms import first_error
from core.jinja import csrf_input
from dashboard.context import project_context
from dashboard.rollouts import panels as rollout_panels
from dashboard.runtime import panels as runtime_panels
from profiles.serving import serving_version, serving_words, versions_resolved
from projects.http import HtmxHttpRequest
from projects.permissions import ProjectAccess
from projects.selectors import members_of
from projects.services import Actor, ServiceError

from . import links as link_views
from .forms import DetailTabForm, RenameForm, StatusForm, TimelineForm
from .timeline import connection_timeline


def _version_context(connection: Connection) -> dict[str, Any]:
    """The connector's title and icon as the connection's version words them, and that
    version's number, as in the list's rows: from the per-process layer (no query when warm;
    the row does not load the version)."""
    label = selectors.version_labels({connection.resolved_version_id}).get(
        connection.resolved_version_id or 0
    )
    return {
        "version_label": label,
        "connector_title": (label.title if label else "") or connection.connector.key,
        "connector_icon": label.icon if label else "",
    }


def _serving_context(connection: Connection) -> dict[str, Any] | None:
    """Which version serves the connection and why, while its profile has a staged rollout
    (nothing to say, and no query, otherwise)."""
    profile = connection.profile
    if profile.rollout_key is None or profile.rollout_to_id is None:
        return None
    profile.project = connection.project
    serving = serving_version(profile, connection.public_id)
    if serving.resolved is None:
        return None
    candidate = versions_resolved(profile.connector_id, [profile.rollout_to_id])
    number = candidate[profile.rollout_to_id].version if candidate else "?"
    return {
        "version": serving.resolved.version,
        "version_id": serving.resolved.id,
        "why": serving_words(serving, number),
    }


def _can(role: str) -> dict[str, bool]:
    return {
        "can_write": rbac.allows(role, ConnNeed.WRITE),
        "can_own": rbac.allows(role, ConnNeed.OWN),
    }


def _access_context(access: ProjectAccess, connection: Connection) -> dict[str, Any]:
    """The Access tab: grants, and who could be granted (members and teams of the org)."""
    organization_id = access.project.organization_id
    grants = list(selectors.grants_of(connection))
    granted_users = {g.user_id for g in grants if g.user_id}
    granted_teams = {g.team_id for g in grants if g.team_id}
    memberships = list(members_of(access.organization))
    return {
        "grants": grants,
        "member_choices": [
            m for m in memberships if not m.can_manage and m.user_id not in granted_users
        ],
        "managers": [m for m in memberships if m.can_manage],
        "team_choices": [t for t in teams_of(organization_id) if t.pk not in granted_teams],
        "grant_roles": GrantRole.choices,
        "org_roles": OrgRole.choices,
    }


def detail_context(
    request: HtmxHttpRequest,
    access: ProjectAccess,
    connection: Connection,
    role: str,
    **extra: Any,
) -> dict[str, Any]:
    tab = extra.pop("tab", None) or DetailTabForm(request.GET).tab_name
    context: dict[str, Any] = {
        "connection": connection,
        "role": role,
        "tab": tab,
        **_version_context(connection),
        **_can(role),
    }
    if tab == "access":
        context.update(_access_context(access, connection))
    else:
        context["credentials"] = selectors.credentials_masked(connection)
        page = TimelineForm(request.GET)
        before = page.cleaned_data["before"] if page.is_valid() else None
        items, older = connection_timeline(connection, before=before)
        context["timeline"] = items
        context["timeline_older"] = older.isoformat() if older else ""
        context["timeline_paged"] = before is not None
        if connection.moved_from_profile_id:
            context["moved_from"] = connection.moved_from_profile
        context["reauth"] = selectors.latest_reauth_session(connection)
        context["serving"] = _serving_context(connection)
        # The rollouts app's migration line and the runtime's Requests tab.
        context.update(rollout_panels.connection_migration(connection=connection))
        context.update(runtime_panels.connection_panels(access=access, connection=connection))
    context.update(extra)
    context = project_context(request, access, nav="connections", **context)
    if tab != "access":
        context["overview"] = _overview_values(request, access, context)
    return context


# What the overview's template reads beyond what every overview sets (core.jinja is strict).
_OVERVIEW_DEFAULTS: dict[str, Any] = {
    "migration": None,
    "serving": None,
    "moved_from": None,
    "rename_value": None,
    "result": None,
    "oob": False,
}


def _overview_values(
    request: HtmxHttpRequest, access: ProjectAccess, context: dict[str, Any]
) -> dict[str, Any]:
    """What the overview tab's Jinja2 template reads
    (templates/jinja2/dashboard/connections/_overview.html, which the Django page includes with
    ``{% jinja_include %}``), with the re-authentication panel (the same directory's
    _link_panel.html, which the link views render too) inside: less CPU a page than the Django
    engine (bench/connections.py)."""
    token = get_token(request)
    link_panel = ""
    if context["can_write"]:
        panel = link_views.reauth_panel(access.project, context["connection"])
        link_panel = link_views.link_panel_html(panel, access=access, csrf_token=token)
    return {
        **_OVERVIEW_DEFAULTS,
        **context,
        "link_panel": link_panel,
        "csrf_input": csrf_input(token),
    }


def _health_card(request: HtmxHttpRequest, context: dict[str, Any]) -> HttpResponse:
    """The health card alone ("Check now" over HTMX), with the status badge out of band."""
    html = render_to_string(
        "dashboard/connections/_health_card.html",
        {**context, "csrf_input": csrf_input(get_token(request))},
        using="jinja2",
    )
    return HttpResponse(html)


@require_GET
@login_required
def connection_detail(
    request: HtmxHttpRequest, project_slug: str, connection_id: UUID
) -> HttpResponse:
    access, connection, role = get_connection_for_user(request.user, project_slug, connection_id)
    context = detail_context(request, access, connection, role)
    template = "dashboard/connections/detail.html"
    if request.htmx and not request.htmx.boosted and request.htmx.target == "connection-tab":
        template += "#tab"
    return render(request, template, context)


def to_detail(project_slug: str, connection_id: UUID, tab: str = "") -> HttpResponse:
    url = reverse("connection_detail", args=[project_slug, connection_id])
    return redirect(f"{url}?tab={tab}" if tab else url)


def _detail_error(
    request: HtmxHttpRequest,
    access: ProjectAccess,
    connection: Connection,
    role: str,
    exc: ServiceError,
    **extra: Any,
) -> HttpResponse:
    messages.error(request, exc.message)
    context = detail_context(request, access, connection, role, **extra)
    return render(request, "dashboard/connections/detail.html", context, status=exc.status)


@require_POST
@login_required
def connection_check_now(
    request: HtmxHttpRequest, project_slug: str, connection_id: UUID
) -> HttpResponse:
    """Check the connection's health now; HTMX swaps the health card, a plain POST redirects."""
    access, connection, role = get_connection_for_user(
        request.user, project_slug, connection_id, need=ConnNeed.WRITE
    )
    result = health.connection_check_health(
        actor=Actor.from_request(request), connection=connection
    )
    connection.refresh_from_db()
    if request.htmx:
        context = project_context(
            request,
            access,
            nav="connections",
            connection=connection,
            result=result,
            oob=True,
            **_can(role),
        )
        return _health_card(request, context)
    label = Health(result.status).label.lower() if result.status in Health.values else "unknown"
    if result.status == Health.HEALTHY:
        messages.success(request, f"{connection.name} is healthy ({result.detail}).")
    elif result.status == Health.UNKNOWN:
        messages.warning(request, result.detail)
    else:
        messages.error(request, f"{connection.name}: {label}. {result.detail}")
    return to_detail(project_slug, connection.public_id)


@require_POST
@login_required
def connection_rename(
    request: HtmxHttpRequest, project_slug: str, connection_id: UUID
) -> HttpResponse:
    access, connection, role = get_connection_for_user(
        request.user, project_slug, connection_id, need=ConnNeed.WRITE
    )
    form = RenameForm(request.POST)
    name = form.cleaned_data["name"] if form.is_valid() else ""
    try:
        connection = services.connection_rename(
            actor=Actor.from_request(request), connection=connection, name=name
        )
    except ServiceError as exc:
        return _detail_error(request, access, connection, role, exc, rename_value=name)
    messages.success(request, f"Renamed to {connection.name}.")
    return to_detail(project_slug, connection.public_id)


@require_POST
@login_required
def connection_status(
    request: HtmxHttpRequest, project_slug: str, connection_id: UUID
) -> HttpResponse:
    """Disable or re-enable (editor and above)."""
    access, connection, role = get_connection_for_user(
        request.user, project_slug, connection_id, need=ConnNeed.WRITE
    )
    form = StatusForm(request.POST)
    try:
        if not form.is_valid():
            raise ServiceError(first_error(form)[1], field="status")
        status = form.cleaned_data["status"]
        connection = services.connection_set_status(
            actor=Actor.from_request(request), connection=connection, status=status
        )
    except ServiceError as exc:
        return _detail_error(request, access, connection, role, exc)
    done = "disabled" if status == Status.DISABLED else "enabled"
    messages.success(request, f"{connection.name} is {done}.")
    return to_detail(project_slug, connection.public_id)


@require_POST
@login_required
def connection_refresh_tokens(
    request: HtmxHttpRequest, project_slug: str, connection_id: UUID
) -> HttpResponse:
    """Refresh the OAuth tokens now (editor and above); a failing provider is a message."""
    _access, connection, _role = get_connection_for_user(
        request.user, project_slug, connection_id, need=ConnNeed.WRITE
    )
    try:
        result = tokens.connection_refresh_tokens(
            actor=Actor.from_request(request), connection=connection, force=True
        )
    except ServiceError as exc:  # UpstreamError included: the provider failed, tokens kept
        messages.error(request, exc.message)
    else:
        if result.refreshed:
            messages.success(request, "The OAuth tokens were refreshed.")
        else:
            messages.warning(request, result.detail)
    return to_detail(project_slug, connection.public_id)


@require_http_methods(["GET", "POST"])
@login_required
def connection_delete(
    request: HtmxHttpRequest, project_slug: str, connection_id: UUID
) -> HttpResponse:
    """GET: the confirmation page; POST: delete (owner role on the connection)."""
    access, connection, _role = get_connection_for_user(
        request.user, project_slug, connection_id, need=ConnNeed.OWN
    )
    if request.method == "GET":
        return render(
            request,
            "dashboard/connections/delete.html",
            project_context(request, access, nav="connections", connection=connection),
        )
    name = connection.name
    services.connection_delete(actor=Actor.from_request(request), connection=connection)
    messages.success(request, f"Deleted the connection {name}.")
    url = reverse("connection_list", args=[project_slug])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
