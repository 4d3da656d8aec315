from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from projects.http import HtmxHttpRequest
from projects.permissions import get_project_for_user
from projects.views import project_context


@require_GET
@login_required
def connection_list(request: HtmxHttpRequest, project_slug: str) -> HttpResponse:
    access = get_project_for_user(request.user, project_slug)
    return render(
        request, "connections/list.html", project_context(request, access, nav="connections")
    )
