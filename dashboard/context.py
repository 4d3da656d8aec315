"""What every project page's context has (the access and the project, remembered as the
user's last project), and the POST success answer of the pages."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import redirect
from django_htmx.http import HttpResponseClientRedirect

from projects.http import HtmxHttpRequest
from projects.permissions import ProjectAccess

LAST_PROJECT_SESSION_KEY = "last_project"


def project_context(
    request: HtmxHttpRequest, access: ProjectAccess, **extra: Any
) -> dict[str, Any]:
    if request.session.get(LAST_PROJECT_SESSION_KEY) != access.project.slug:
        request.session[LAST_PROJECT_SESSION_KEY] = access.project.slug
    return {"access": access, "project": access.project, **extra}


def done(request: HtmxHttpRequest, url: str) -> HttpResponse:
    """Full-page POST success redirects; an HTMX request is told to redirect."""
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)
