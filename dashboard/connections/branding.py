"""Settings → Connect pages: the project's branding of its hosted connect pages (owners and
admins), with a live preview (an iframe of ``connect_pages_preview``, updated as the form
changes by static/js/connect_preview.js)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.csp import CSP
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csp import csp_override
from django.views.decorators.http import require_GET, require_http_methods

from connections.models import Theme
from connections.services import branding
from core.validation import text_problem
from dashboard.context import project_context
from interfaces_common.csp import HOSTED_CSP
from projects.http import HtmxHttpRequest
from projects.permissions import Need, get_project_for_user
from projects.services import Actor, ServiceError

from .forms import BrandingForm


@require_http_methods(["GET", "POST"])
@login_required
def connect_pages(request: HtmxHttpRequest, project_slug: str) -> HttpResponse:
    access = get_project_for_user(request.user, project_slug, need=Need.MANAGE)
    project = access.project
    saved = branding.branding_of(project)
    look = branding.look_of(project, saved)
    initial = {
        "display_name": saved.display_name if saved else "",
        "primary_color": look.primary,
        "theme": look.theme,
        "terms_url": look.terms_url,
        "privacy_url": look.privacy_url,
        "support_email": look.support_email,
        "allowed_origins": "\n".join(look.allowed_origins),
    }
    form = BrandingForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            branding.branding_update(
                actor=Actor.from_request(request),
                project=project,
                display_name=data["display_name"],
                primary_color=data["primary_color"],
                theme=data["theme"],
                terms_url=data["terms_url"],
                privacy_url=data["privacy_url"],
                support_email=data["support_email"],
                allowed_origins=form.origins(),
                logo=data["logo"],
                remove_logo=data["remove_logo"],
            )
        except ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, "Connect page settings saved.")
            return redirect("connect_pages", project_slug)
    context = project_context(
        request,
        access,
        nav="settings",
        tab="connect_pages",
        form=form,
        look=look,
        preview_url=reverse("connect_pages_preview", args=[project_slug]),
    )
    return render(
        request,
        "dashboard/connections/connect_pages.html",
        context,
        status=400 if form.errors else 200,
    )


PREVIEW_FIELDS = [
    {"key": "api_key", "label": "API key", "type": "string", "secret": True, "required": True},
    {
        "key": "subdomain",
        "label": "Subdomain",
        "type": "string",
        "tooltip": "acme for acme.example.com",
    },
]


@require_GET
@login_required
@xframe_options_sameorigin
@csp_override({**HOSTED_CSP, "frame-ancestors": [CSP.SELF]})
def connect_pages_preview(request: HtmxHttpRequest, project_slug: str) -> HttpResponse:
    """The connect page as an end user would see it, with the form's unsaved name, colour and
    theme (each ignored when not valid); framed by the settings page only."""
    access = get_project_for_user(request.user, project_slug, need=Need.MANAGE)
    look = branding.look_of(access.project, branding.branding_of(access.project))
    changes: dict[str, Any] = {}
    name = request.GET.get("display_name", "").strip()
    if name and text_problem(name, max_length=80) is None:
        changes["name"] = name
    theme = request.GET.get("theme", "")
    if theme in Theme.values:
        changes["theme"] = theme
    primary = request.GET.get("primary_color", "").lower()
    if branding.color_problem(primary, changes.get("theme", look.theme)) is None:
        changes["primary"] = primary
        changes["text_on_primary"] = branding.text_color_on(primary)
    look = replace(look, allowed_origins=(), **changes)
    response = render(
        request,
        "connect/page.html",
        {
            "look": look,
            "mode": "redirect",
            "project": access.project,
            "title": "Example CRM",
            "auth_type": "api_key",
            "fields": PREVIEW_FIELDS,
            "values": {},
            "token": "preview",
            "preview": True,
        },
    )
    return response
