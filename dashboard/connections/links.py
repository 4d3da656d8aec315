"""Dashboard side of hosted connect links: "Link account" (profile and connector pages) and
"Request re-authentication" (connection page).

Each form POSTs here and ``connect.connect_session_create`` makes the session (and its audit
entry, which never holds the token). The link is shown once, in the response to that POST:
over HTMX the panel swaps itself for the result; a plain POST renders the link page with it
(no redirect, since only the token's digest is stored). Every response is ``no-store``.

Who may create links: organization members with write rights (member and up) on the profile
and connector pages; the editor role on the connection (or higher) for re-authentication.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import SafeString
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_POST

from connections import selectors
from connections.models import Connection
from connections.permissions import get_connection_for_user
from connections.rbac import ConnNeed
from connections.services import connect
from connectors.models import Connector
from connectors.permissions import get_connector_for_user
from core.jinja import csrf_input
from dashboard.context import project_context
from dashboard.templatetags.jinja_include import jinja_include
from profiles import selectors as profile_selectors
from profiles.models import ConnectorProfile
from profiles.permissions import get_profile_for_user
from projects.http import HtmxHttpRequest
from projects.models import Project
from projects.permissions import Need, ProjectAccess
from projects.services import Actor, ServiceError

from .forms import LinkForm, ReauthForm

logger = logging.getLogger(__name__)


@dataclass
class LinkPanel:
    """Everything ``connections/_link_panel.html`` shows."""

    kind: str  # "account" (Link account) or "reauth" (Request re-authentication)
    action: str  # where the form posts
    again_url: str  # the page the form lives on ("Create another link")
    form: forms.Form
    profiles: list[selectors.LinkProfile] | None = None  # a select when there is a choice
    selected_profile: UUID | None = None
    current_profile: UUID | None = None  # re-authentication: the connection's own profile
    connection: Connection | None = None  # re-authentication: the connection
    created: connect.CreatedSession | None = None
    error: str = ""
    crumbs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def title(self) -> str:
        return "Request re-authentication" if self.kind == "reauth" else "Link account"

    @property
    def reauth(self) -> bool:
        return self.kind == "reauth"


def profile_panel(project: Project, profile: ConnectorProfile, **extra: Any) -> LinkPanel:
    extra.setdefault("form", LinkForm())
    return LinkPanel(
        kind="account",
        action=reverse("profile_link_create", args=[project.slug, profile.public_id]),
        again_url=reverse("profile_detail", args=[project.slug, profile.public_id]),
        crumbs=[
            ("Profiles", reverse("profile_list", args=[project.slug])),
            (profile.name, reverse("profile_detail", args=[project.slug, profile.public_id])),
        ],
        **extra,
    )


def connector_panel(project: Project, connector: Connector, **extra: Any) -> LinkPanel:
    profiles = selectors.connector_profiles(project, connector.pk)
    extra.setdefault("form", LinkForm())
    extra.setdefault("selected_profile", profiles[0].public_id if profiles else None)
    title = getattr(connector, "display_title", "") or connector.key
    return LinkPanel(
        kind="account",
        action=reverse("connector_link_create", args=[project.slug, connector.key]),
        again_url=reverse("connector_detail", args=[project.slug, connector.key]),
        profiles=profiles,
        crumbs=[
            ("Connectors", reverse("connector_list", args=[project.slug])),
            (title, reverse("connector_detail", args=[project.slug, connector.key])),
        ],
        **extra,
    )


def reauth_panel(project: Project, connection: Connection, **extra: Any) -> LinkPanel:
    extra.setdefault("form", ReauthForm())
    extra.setdefault("selected_profile", connection.profile.public_id)
    return LinkPanel(
        kind="reauth",
        action=reverse("connection_reauth_link", args=[project.slug, connection.public_id]),
        again_url=reverse("connection_detail", args=[project.slug, connection.public_id]),
        profiles=selectors.connector_profiles(project, connection.connector_id),
        current_profile=connection.profile.public_id,
        connection=connection,
        crumbs=[
            ("Connections", reverse("connection_list", args=[project.slug])),
            (
                connection.name,
                reverse("connection_detail", args=[project.slug, connection.public_id]),
            ),
        ],
        **extra,
    )


# --- Views -----------------------------------------------------------------------------------


def _respond(
    request: HtmxHttpRequest, access: ProjectAccess, panel: LinkPanel, *, nav: str, status: int
) -> HttpResponse:
    """HTMX: the panel alone; plain POST: the link page around it. Never cached: the response
    may carry the only copy of the link."""
    context = project_context(request, access, nav=nav, link=panel)
    if request.htmx:
        html = link_panel_html(panel, access=access, csrf_token=get_token(request))
        return HttpResponse(html, status=status)
    return render(request, "dashboard/connections/link.html", context, status=status)


LINK_PANEL_TEMPLATE = "dashboard/connections/_link_panel.html"


def link_panel_values(
    panel: LinkPanel | str | None,
    *,
    access: ProjectAccess,
    csrf_token: str,
    migration_out: Any = None,
    migrating_away: dict[UUID, Any] | None = None,
) -> dict[str, Any] | None:
    """What the panel's Jinja2 template reads (templates/jinja2/dashboard/connections/
    _link_panel.html: its form cost ~0.5 ms of CPU through the Django engine on every
    connection page), or None when the user gets no panel. ``migration_out`` /
    ``migrating_away``: the profile and connector pages' warnings (rollouts)."""
    if not panel:  # none for this user (a Django page's missing variable is "")
        return None
    return {
        "link": panel,
        "access": access,
        "project": access.project,
        "migration_out": migration_out,
        "migrating_away": migrating_away or {},
        "csrf_input": csrf_input(csrf_token),
    }


def link_panel_html(panel: LinkPanel | str | None, **values: Any) -> SafeString:
    """The panel, included through the one Jinja2 helper (``{% jinja_include %}``)."""
    found = link_panel_values(panel, **values)
    return jinja_include(LINK_PANEL_TEMPLATE, found) if found else SafeString("")


def _create(
    request: HtmxHttpRequest,
    access: ProjectAccess,
    panel: LinkPanel,
    *,
    nav: str,
    connector_profile_id: UUID,
    account_id: UUID | None = None,
    origin: dict[str, Any] | None = None,
) -> HttpResponse:
    """Validate ``panel.form``, create the session, and answer with the link or the errors."""
    form = panel.form
    try:
        if not form.is_valid():
            raise ServiceError("Check the highlighted fields.")
        created = connect.connect_session_create(
            actor=Actor.from_request(request),
            project=access.project,
            connector_profile_id=connector_profile_id,
            account_id=account_id,
            expires_in=form.cleaned_data["expires_in"],
            locale=form.cleaned_data.get("locale", ""),
            **(origin or {}),
        )
    except ServiceError as exc:
        if exc.field and exc.field in form.fields and form.is_bound and not form.errors:
            form.add_error(exc.field, exc.message)
        else:
            panel.error = exc.message
        return _respond(request, access, panel, nav=nav, status=exc.status)
    logger.info(
        "connect session %s created for profile %s by %s (account %s)",
        created.session.pk,
        connector_profile_id,
        request.user.get_username(),
        account_id,
    )
    panel.created = created
    panel.selected_profile = connector_profile_id
    return _respond(request, access, panel, nav=nav, status=200)


@cache_control(no_store=True)
@require_POST
@login_required
def profile_link_create(
    request: HtmxHttpRequest, project_slug: str, profile_id: UUID
) -> HttpResponse:
    """ "Link account" on the profile page (members and up)."""
    access, profile = get_profile_for_user(request.user, project_slug, profile_id, need=Need.WRITE)
    form = LinkForm(request.POST)
    panel = profile_panel(access.project, profile, form=form)
    return _create(
        request,
        access,
        panel,
        nav="profiles",
        connector_profile_id=profile.public_id,
        origin=form.origin(),
    )


@cache_control(no_store=True)
@require_POST
@login_required
def connector_link_create(request: HtmxHttpRequest, project_slug: str, key: str) -> HttpResponse:
    """ "Link account" on the connector page: the link goes to the chosen profile of this
    connector (members and up). Another project's profile is 404, another connector's 400."""
    access, connector = get_connector_for_user(request.user, project_slug, key, need=Need.WRITE)
    form = LinkForm(request.POST)
    panel = connector_panel(access.project, connector, form=form)
    try:
        chosen = form.chosen_profile(None)
    except ServiceError as exc:
        panel.error = exc.message
        return _respond(request, access, panel, nav="connectors", status=exc.status)
    profile = profile_selectors.profile_of(access.project, chosen)
    if profile is None:
        raise Http404("No such profile in this project.")
    panel.selected_profile = profile.public_id
    if profile.connector_id != connector.pk:
        panel.error = f"{profile.name} is a profile of another connector; choose one of {key}."
        return _respond(request, access, panel, nav="connectors", status=400)
    return _create(
        request,
        access,
        panel,
        nav="connectors",
        connector_profile_id=profile.public_id,
        origin=form.origin(),
    )


@cache_control(no_store=True)
@require_POST
@login_required
def connection_reauth_link(
    request: HtmxHttpRequest, project_slug: str, connection_id: UUID
) -> HttpResponse:
    """ "Request re-authentication" (editor role on the connection or higher): a link for the
    connection's end user, to its own profile or to another profile of the same connector,
    where the connection moves when the end user finishes."""
    access, connection, _role = get_connection_for_user(
        request.user, project_slug, connection_id, need=ConnNeed.WRITE
    )
    form = ReauthForm(request.POST)
    panel = reauth_panel(access.project, connection, form=form)
    try:
        chosen = form.chosen_profile(connection.profile.public_id)
    except ServiceError as exc:
        panel.error = exc.message
        return _respond(request, access, panel, nav="connections", status=exc.status)
    panel.selected_profile = chosen
    return _create(
        request,
        access,
        panel,
        nav="connections",
        connector_profile_id=chosen,
        account_id=connection.public_id,
    )
