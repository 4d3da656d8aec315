"""The Access tab's writes: grants to members and teams, the organization-level role."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from connections.models import OrgRole, SubjectType
from connections.permissions import get_connection_for_user
from connections.rbac import ConnNeed
from connections.services import connections as services
from projects.http import HtmxHttpRequest
from projects.services import Actor, ServiceError

from .detail import detail_context, to_detail
from .forms import GrantForm, OrgRoleForm


def _access_response(
    request: HtmxHttpRequest, project_slug: str, connection_id: UUID, *, status: int = 200
) -> HttpResponse:
    """After an access write: the re-rendered Access panel (HTMX), the page with the error
    (plain, failed) or a redirect to the Access tab (plain, done). Someone who removed their
    own access is sent to the list."""
    try:
        access, connection, role = get_connection_for_user(
            request.user, project_slug, connection_id
        )
    except Http404:
        messages.info(request, "You no longer have access to that connection.")
        url = reverse("connection_list", args=[project_slug])
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    if request.htmx:
        context = detail_context(request, access, connection, role, tab="access")
        return render(
            request, "dashboard/connections/detail.html#access-panel", context, status=status
        )
    if status >= 400:
        context = detail_context(request, access, connection, role, tab="access")
        return render(request, "dashboard/connections/detail.html", context, status=status)
    return to_detail(project_slug, connection_id, "access")


def _grant_form(request: HtmxHttpRequest) -> GrantForm:
    form = GrantForm(request.POST)
    form.is_valid()  # every field is optional text: the service checks the values
    return form


@require_POST
@login_required
def grant_set(request: HtmxHttpRequest, project_slug: str, connection_id: UUID) -> HttpResponse:
    """Add a grant or change its role (owner role on the connection)."""
    _access, connection, _role = get_connection_for_user(
        request.user, project_slug, connection_id, need=ConnNeed.OWN
    )
    form = _grant_form(request)
    subject_type, subject_id = form.subject_of()
    try:
        grant = services.grant_set(
            actor=Actor.from_request(request),
            connection=connection,
            subject_type=subject_type,
            subject_id=subject_id,
            role=form.cleaned_data["role"],
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return _access_response(request, project_slug, connection_id, status=exc.status)
    subject = grant.user if grant.subject_type == SubjectType.USER else grant.team
    messages.success(request, f"{subject} is now {grant.role} of {connection.name}.")
    return _access_response(request, project_slug, connection_id)


@require_POST
@login_required
def grant_remove(request: HtmxHttpRequest, project_slug: str, connection_id: UUID) -> HttpResponse:
    _access, connection, _role = get_connection_for_user(
        request.user, project_slug, connection_id, need=ConnNeed.OWN
    )
    subject_type, subject_id = _grant_form(request).subject_of()
    try:
        services.grant_remove(
            actor=Actor.from_request(request),
            connection=connection,
            subject_type=subject_type,
            subject_id=subject_id,
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return _access_response(request, project_slug, connection_id, status=exc.status)
    messages.success(request, "Access removed.")
    return _access_response(request, project_slug, connection_id)


@require_POST
@login_required
def org_role_set(request: HtmxHttpRequest, project_slug: str, connection_id: UUID) -> HttpResponse:
    """The organization-level role: what every member of the organization gets."""
    _access, connection, _role = get_connection_for_user(
        request.user, project_slug, connection_id, need=ConnNeed.OWN
    )
    form = OrgRoleForm(request.POST)
    role = form.cleaned_data["role"] if form.is_valid() else ""
    try:
        connection = services.connection_set_org_role(
            actor=Actor.from_request(request), connection=connection, role=role
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return _access_response(request, project_slug, connection_id, status=exc.status)
    label = OrgRole(connection.org_role).label.lower()
    messages.success(request, f"Organization-level access is now: {label}.")
    return _access_response(request, project_slug, connection_id)
