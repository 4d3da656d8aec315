"""The pages outside a project: home (the last project, else the welcome page), creating an
organization or a project, the time zone preference, the 403 page, login lockout and the
throttled password reset."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.forms import first_error
from core.throttle import client_ip, over_limit, retry_after
from dashboard.context import LAST_PROJECT_SESSION_KEY
from dashboard.context import done as _done
from dashboard.projects.forms import (
    OrganizationForm,
    ProjectForm,
    TimeZoneForm,
)
from projects import preferences, selectors, services
from projects.http import HtmxHttpRequest
from projects.permissions import (
    Need,
    get_organization_for_user,
    get_project_for_user,
)
from projects.services import Actor, ServiceError

# --- The user's own preferences -------------------------------------------------------------


@require_POST
@login_required
def user_time_zone(request: HtmxHttpRequest) -> HttpResponse:
    """The profile menu's time zone: every time on the dashboard is shown in it."""
    form = TimeZoneForm(request.POST)
    if not form.is_valid():
        messages.error(request, first_error(form)[1])
    else:
        preferences.time_zone_set(request=request, name=form.cleaned_data["time_zone"])
        messages.success(request, f"Times are shown in {form.cleaned_data['time_zone']}.")
    # Back to a path of this site only (``next`` passed its field's checks even when the zone
    # did not); not through redirect(), which would take ``foo`` for a URL name to reverse.
    back = form.cleaned_data.get("next") or ""
    if not back.startswith("/") or not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = reverse("home")
    return HttpResponseRedirect(back)


# --- Home and creation -------------------------------------------------------------------------


@require_GET
@login_required
def home(request: HtmxHttpRequest) -> HttpResponse:
    project = selectors.project_to_open(request.user, request.session.get(LAST_PROJECT_SESSION_KEY))
    if project is not None:
        return redirect(project)
    return render(request, "dashboard/projects/welcome.html", {"form": OrganizationForm()})


@require_POST
@login_required
def organization_create(request: HtmxHttpRequest) -> HttpResponse:
    form = OrganizationForm(request.POST)
    if form.is_valid():
        actor = Actor.from_request(request)
        data = form.cleaned_data
        try:
            with transaction.atomic():
                organization = services.organization_create(
                    actor=actor,
                    slug=data["organization_slug"],
                    name=data["organization_name"],
                    owner=request.user,
                )
                project = services.project_create(
                    actor=actor,
                    organization=organization,
                    slug=data["project_slug"],
                    name=data["project_name"],
                )
        except ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(
                request, f"Created {organization.name} and its project {project.name}."
            )
            return redirect(project)
    return render(request, "dashboard/projects/welcome.html", {"form": form}, status=400)


@require_http_methods(["GET", "POST"])
@login_required
def project_create(request: HtmxHttpRequest, org_slug: str) -> HttpResponse:
    organization, _membership = get_organization_for_user(request.user, org_slug, need=Need.MANAGE)
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = services.project_create(
                actor=Actor.from_request(request),
                organization=organization,
                slug=form.cleaned_data["slug"],
                name=form.cleaned_data["name"],
            )
        except ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"Project {project.name} created.")
            return _done(request, project.get_absolute_url())
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "dashboard/projects/project_new.html",
        {"organization": organization, "form": form},
        status=status,
    )


def permission_denied(request: HtmxHttpRequest, exception: Exception) -> HttpResponse:
    """The 403 page keeps the project's navigation when the user is a member of it."""
    context: dict[str, Any] = {"exception": exception}
    match = request.resolver_match
    slug = match.kwargs.get("project_slug") if match else None
    if slug and request.user.is_authenticated:
        try:
            access = get_project_for_user(request.user, slug)
        except Http404:
            pass
        else:
            context.update(access=access, project=access.project)
    return render(request, "403.html", context, status=403)


# --- Login lockout and password reset throttling ---------------------------------------------


def login_locked_out(
    request: HttpRequest, response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """django-axes' AXES_LOCKOUT_CALLABLE: the login page's lockout message, 429."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    response = render(
        request, "registration/locked_out.html", {"minutes": seconds // 60}, status=429
    )
    response["Retry-After"] = str(seconds)
    patch_cache_control(response, private=True, no_store=True)
    return response


_password_reset_view = auth_views.PasswordResetView.as_view()


def password_reset(request: HttpRequest) -> HttpResponseBase:
    """Django's password reset form, its POSTs limited per client address: each sends an
    email, so an unlimited form is a mail cannon aimed at any user (core/throttle.py)."""
    if request.method == "POST" and over_limit(
        request,
        group="password_reset",
        key=client_ip(request),
        rate=settings.THROTTLE_PASSWORD_RESET_RATE,
    ):
        response = render(request, "registration/password_reset_throttled.html", status=429)
        response["Retry-After"] = str(retry_after(settings.THROTTLE_PASSWORD_RESET_RATE))
        return response
    return _password_reset_view(request)
