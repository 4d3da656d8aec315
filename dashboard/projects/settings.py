"""The project's settings tabs: general, members and teams, API keys, audit log, Danger Zone."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.pager import without_cursors
from dashboard.context import done as _done
from dashboard.context import project_context
from dashboard.projects.forms import (
    ApiKeyForm,
    AuditCursorForm,
    AuditFilterForm,
    DangerZoneForm,
    MemberAddForm,
    MemberFilterForm,
    ProjectRenameForm,
    RoleForm,
    TeamForm,
    TeamMemberForm,
    TeamMemberRemoveForm,
)
from projects import selectors, services
from projects.http import HtmxHttpRequest
from projects.models import Role
from projects.permissions import (
    Need,
    ProjectAccess,
    get_api_key_for_user,
    get_member_for_user,
    get_project_for_user,
    get_team_for_user,
)
from projects.services import Actor, ServiceError

# --- Settings: general ---------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def settings_general(request: HtmxHttpRequest, project_slug: str) -> HttpResponse:
    need = Need.MANAGE if request.method == "POST" else Need.READ
    access = get_project_for_user(request.user, project_slug, need=need)
    form = ProjectRenameForm(request.POST or None, initial={"name": access.project.name})
    if request.method == "POST" and form.is_valid():
        try:
            services.project_update(
                actor=Actor.from_request(request),
                project=access.project,
                name=form.cleaned_data["name"],
            )
        except ServiceError as exc:
            form.add_error("name", exc.message)
        else:
            messages.success(request, "Project settings saved.")
            return _done(request, reverse("settings_general", args=[project_slug]))
    status = 400 if form.errors else 200
    return render(
        request,
        "dashboard/projects/settings_general.html",
        project_context(request, access, nav="settings", tab="general", form=form),
        status=status,
    )


# --- Settings: members and teams -----------------------------------------------------------------


MEMBERS_PAGE_SIZE = 50


def _members_context(
    request: HtmxHttpRequest, access: ProjectAccess, **extra: Any
) -> dict[str, Any]:
    organization = access.project.organization
    query = MemberFilterForm(request.GET)
    query.is_valid()  # each field that is not valid counts as not given (the search: a 400)
    search = query.cleaned_data.get("q", "")
    extra.setdefault("search_error", str(query.errors["q"][0]) if "q" in query.errors else None)
    page = Paginator(selectors.members_of(organization, search=search), MEMBERS_PAGE_SIZE).get_page(
        query.cleaned_data.get("page")
    )
    members = list(page.object_list)
    teams = list(selectors.teams_of(organization))
    # Team badges per member, computed once (the template must not loop teams × members).
    team_names: dict[int, list[str]] = {}
    for team in teams:
        for team_user in team.members.all():
            team_names.setdefault(team_user.pk, []).append(team.name)
    is_owner = access.role == Role.OWNER
    for membership in members:
        membership.team_names = team_names.get(membership.user_id, [])  # type: ignore[attr-defined]
        # Only owners grant, change or remove the owner role (the service enforces it too).
        membership.editable = access.can_manage and (is_owner or membership.role != Role.OWNER)  # type: ignore[attr-defined]
    roles = Role.choices if is_owner else [c for c in Role.choices if c[0] != Role.OWNER]
    add_form = extra.pop("add_form", None) or MemberAddForm()
    role_field = add_form.fields["role"]
    assert isinstance(role_field, forms.ChoiceField)
    role_field.choices = roles
    return project_context(
        request,
        access,
        nav="settings",
        tab="members",
        members=members,
        page=page,
        search=search,
        member_choices=selectors.member_choices(organization),
        teams=teams,
        add_form=add_form,
        team_form=extra.pop("team_form", None) or TeamForm(),
        roles=roles,
        **extra,
    )


@require_GET
@login_required
def settings_members(request: HtmxHttpRequest, project_slug: str) -> HttpResponse:
    access = get_project_for_user(request.user, project_slug)
    template = "dashboard/projects/settings_members.html"
    if request.htmx and not request.htmx.boosted:
        template += "#members-panel"
    context = _members_context(request, access)
    return render(request, template, context, status=400 if context["search_error"] else 200)


def _members_response(
    request: HtmxHttpRequest, access: ProjectAccess, *, status: int = 200, **extra: Any
) -> HttpResponse:
    """After a members/teams write: the HTMX partial, or a redirect for a plain form."""
    if request.htmx:
        return render(
            request,
            "dashboard/projects/settings_members.html#members-panel",
            _members_context(request, access, **extra),
            status=status,
        )
    if status >= 400:
        return render(
            request,
            "dashboard/projects/settings_members.html",
            _members_context(request, access, **extra),
            status=status,
        )
    return redirect("settings_members", access.project.slug)


@require_POST
@login_required
def member_add(request: HtmxHttpRequest, project_slug: str) -> HttpResponse:
    access = get_project_for_user(request.user, project_slug, need=Need.MANAGE)
    form = MemberAddForm(request.POST)
    if form.is_valid():
        try:
            membership = services.membership_add(
                actor=Actor.from_request(request),
                organization=access.project.organization,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                project=access.project,
            )
        except ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(
                request, f"{membership.user.get_username()} added as {membership.role}."
            )
            return _members_response(request, access)
    return _members_response(request, access, status=400, add_form=form)


@require_POST
@login_required
def member_role(request: HtmxHttpRequest, project_slug: str, membership_id: int) -> HttpResponse:
    access, membership = get_member_for_user(request.user, project_slug, membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role: owner, admin, member or viewer.")
        return _members_response(request, access, status=400)
    try:
        services.membership_change_role(
            actor=Actor.from_request(request), membership=membership, role=form.cleaned_data["role"]
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return _members_response(request, access, status=exc.status)
    messages.success(
        request, f"{membership.user.get_username()} is now {form.cleaned_data['role']}."
    )
    return _members_response(request, access)


@require_POST
@login_required
def member_remove(request: HtmxHttpRequest, project_slug: str, membership_id: int) -> HttpResponse:
    access, membership = get_member_for_user(request.user, project_slug, membership_id)
    try:
        services.membership_remove(actor=Actor.from_request(request), membership=membership)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return _members_response(request, access, status=exc.status)
    messages.success(request, f"{membership.user.get_username()} removed from the organization.")
    if membership.user_id == request.user.pk:
        return _done(request, reverse("home"))
    return _members_response(request, access)


@require_POST
@login_required
def team_add(request: HtmxHttpRequest, project_slug: str) -> HttpResponse:
    access = get_project_for_user(request.user, project_slug, need=Need.MANAGE)
    form = TeamForm(request.POST)
    if form.is_valid():
        try:
            team = services.team_create(
                actor=Actor.from_request(request),
                organization=access.project.organization,
                name=form.cleaned_data["name"],
            )
        except ServiceError as exc:
            form.add_error("name", exc.message)
        else:
            messages.success(request, f"Team {team.name} created.")
            return _members_response(request, access)
    return _members_response(request, access, status=400, team_form=form)


@require_POST
@login_required
def team_delete(request: HtmxHttpRequest, project_slug: str, team_id: int) -> HttpResponse:
    access, team = get_team_for_user(request.user, project_slug, team_id)
    services.team_delete(actor=Actor.from_request(request), team=team)
    messages.success(request, f"Team {team.name} deleted.")
    return _members_response(request, access)


@require_POST
@login_required
def team_member_add(request: HtmxHttpRequest, project_slug: str) -> HttpResponse:
    access = get_project_for_user(request.user, project_slug, need=Need.MANAGE)
    form = TeamMemberForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a team and a member to add.")
        return _members_response(request, access, status=400)
    _access, team = get_team_for_user(request.user, project_slug, form.cleaned_data["team"])
    try:
        services.team_member_add(
            actor=Actor.from_request(request), team=team, user_id=form.cleaned_data["user"]
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return _members_response(request, access, status=400)
    messages.success(request, f"Added to team {team.name}.")
    return _members_response(request, access)


@require_POST
@login_required
def team_member_remove(request: HtmxHttpRequest, project_slug: str, team_id: int) -> HttpResponse:
    access, team = get_team_for_user(request.user, project_slug, team_id)
    form = TeamMemberRemoveForm(request.POST)
    try:
        if not form.is_valid():
            raise ServiceError("Choose a member to remove from the team.")
        services.team_member_remove(
            actor=Actor.from_request(request), team=team, user_id=form.cleaned_data["user"]
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return _members_response(request, access, status=400)
    return _members_response(request, access)


# --- Settings: API keys --------------------------------------------------------------------------


@cache_control(no_store=True)
@require_http_methods(["GET", "POST"])
@login_required
def settings_api_keys(request: HtmxHttpRequest, project_slug: str) -> HttpResponse:
    access = get_project_for_user(request.user, project_slug, need=Need.MANAGE)
    form = ApiKeyForm(request.POST or None)
    new_key = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            _api_key, new_key = services.api_key_create(
                actor=Actor.from_request(request),
                project=access.project,
                name=form.cleaned_data["name"],
                scope=form.cleaned_data["scope"],
            )
            form = ApiKeyForm()
        else:
            status = 400
    context = project_context(
        request,
        access,
        nav="settings",
        tab="api_keys",
        form=form,
        new_key=new_key,
        api_keys=selectors.api_keys_of(access.project),
    )
    template = "dashboard/projects/settings_api_keys.html"
    if request.htmx and request.method == "POST":
        template += "#keys-panel"
    # The new key is rendered into this response only (never stored, never redirected through).
    return render(request, template, context, status=status)


@require_POST
@login_required
def api_key_revoke(request: HtmxHttpRequest, project_slug: str, api_key_id: int) -> HttpResponse:
    access, api_key = get_api_key_for_user(request.user, project_slug, api_key_id)
    services.api_key_revoke(actor=Actor.from_request(request), api_key=api_key)
    messages.success(request, f"API key {api_key.prefix}… revoked.")
    if request.htmx:
        context = project_context(
            request,
            access,
            nav="settings",
            tab="api_keys",
            form=ApiKeyForm(),
            new_key=None,
            api_keys=selectors.api_keys_of(access.project),
        )
        return render(request, "dashboard/projects/settings_api_keys.html#keys-panel", context)
    return redirect("settings_api_keys", project_slug)


# --- Settings: audit log -------------------------------------------------------------------------

AUDIT_PAGE_SIZE = 50


@require_GET
@login_required
def settings_audit(request: HtmxHttpRequest, project_slug: str) -> HttpResponse:
    """Newest first, keyset-paged on id (``before`` / ``after``): no count, no offset scan."""
    access = get_project_for_user(request.user, project_slug, need=Need.MANAGE)
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    entries = selectors.audit_entries_for_project(
        access.project, **{k: v for k, v in filters.items() if v}
    )
    cursor = AuditCursorForm(request.GET)
    cursor.is_valid()  # a cursor that is not valid counts as not given
    page = selectors.audit_page(
        entries,
        before=cursor.cleaned_data.get("before"),
        after=cursor.cleaned_data.get("after"),
        size=AUDIT_PAGE_SIZE,
    )
    context = project_context(
        request,
        access,
        nav="settings",
        tab="audit",
        form=form,
        entries=page.entries,
        newer_cursor=page.newer_cursor,
        older_cursor=page.older_cursor,
        query=without_cursors(request.GET),
        target_types=selectors.audited_target_choices(),
    )
    template = "dashboard/projects/settings_audit.html"
    if request.htmx and not request.htmx.boosted:
        template += "#audit-table"
    return render(request, template, context)


# --- Settings: Danger Zone -----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def settings_danger(request: HtmxHttpRequest, project_slug: str) -> HttpResponse:
    """Immutable versioning: only owners and admins, confirmed by typing the project slug."""
    access = get_project_for_user(request.user, project_slug, need=Need.MANAGE)
    form = DangerZoneForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.project_set_immutable_versioning(
                    actor=Actor.from_request(request),
                    project=access.project,
                    enabled=form.cleaned_data["immutable_versioning"],
                    confirmation=form.cleaned_data["confirmation"],
                )
            except ServiceError as exc:
                form.add_error("confirmation", exc.message)
                status = 400
            else:
                state = "on" if form.cleaned_data["immutable_versioning"] else "off"
                messages.success(request, f"Immutable versioning is now {state}.")
                return _done(request, reverse("settings_danger", args=[project_slug]))
        else:
            status = 400
    selectors.with_current_settings(access.project)
    template = "dashboard/projects/settings_danger.html"
    if request.htmx and request.method == "POST":
        template += "#danger-panel"
    return render(
        request,
        template,
        project_context(request, access, nav="settings", tab="danger", form=form),
        status=status,
    )
