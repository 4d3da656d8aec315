"""The dashboard's runtime pages: Try it (run an action of a version page against a
connection the user may edit) and a connection's Requests tab. Reads through the selectors,
runs through ``services.action_run`` (the same path as the API)."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from connections.permissions import get_connection_for_user
from connections.rbac import ConnNeed
from connectors.permissions import get_connector_version_for_user
from core.pager import InvalidCursor
from dashboard.context import project_context
from projects.http import HtmxHttpRequest
from projects.services import Actor
from runtime import selectors
from runtime.services import ActionError, action_of, action_run

from .forms import RequestFilterForm, TryItForm

MAX_SHOWN_JSON = 200_000


@require_http_methods(["GET", "POST"])
@login_required
def action_try(
    request: HtmxHttpRequest, project_slug: str, key: str, version_id: int, action_id: str
) -> HttpResponse:
    access, version = get_connector_version_for_user(request.user, project_slug, key, version_id)
    action = action_of(version.definition, action_id)
    if action is None:
        raise Http404("This version has no such action.")
    connections = selectors.try_it_connections(request.user, access, version.connector_id)
    form = TryItForm(
        request.POST if request.method == "POST" else None, action=action, connections=connections
    )
    context: dict[str, Any] = {
        "version": version,
        "connector": version.connector,
        "action": action,
        "form": form,
    }
    status = 200
    if request.method == "POST" and form.is_valid():
        _, connection, _ = get_connection_for_user(
            request.user, project_slug, UUID(form.cleaned_data["connection"]), need=ConnNeed.WRITE
        )
        try:
            result = action_run(
                actor=Actor.from_request(request),
                project=access.project,
                connection=connection,
                action_id=action_id,
                inputs=form.inputs(),
            )
        except ActionError as exc:
            form.add_input_errors(exc.fields)
            context["error"] = exc
            status = 200 if exc.status == 400 else exc.status
        else:
            shown = json.dumps(result.data, indent=2, default=str)
            context["result"] = result
            context["result_json"] = shown[:MAX_SHOWN_JSON]
            context["truncated"] = len(shown) > MAX_SHOWN_JSON
            context["other_version"] = result.version != version.version
    elif request.method == "POST":
        status = 400
    template = "dashboard/runtime/try_it.html"
    if request.htmx:
        template += "#try-result"
        status = 200  # the partial swaps in whatever happened
    return render(
        request,
        template,
        project_context(request, access, nav="connectors", **context),
        status=status,
    )


@require_GET
@login_required
def connection_requests(
    request: HtmxHttpRequest, project_slug: str, connection_id: UUID
) -> HttpResponse:
    access, connection, role = get_connection_for_user(request.user, project_slug, connection_id)
    filters = RequestFilterForm(request.GET)
    action_id, status = filters.values()
    try:
        page = selectors.requests_page(
            connection,
            limit=50,
            after=filters.cleaned_data.get("after") or "" if filters.is_valid() else "",
            before=filters.cleaned_data.get("before") or "" if filters.is_valid() else "",
            action_id=action_id,
            status=status,
        )
    except InvalidCursor as exc:
        raise Http404("No such page.") from exc
    previous, following = page.links(request.GET)
    context = project_context(
        request,
        access,
        nav="connections",
        connection=connection,
        role=role,
        page=page,
        filters=filters,
        prev_url=previous,
        next_url=following,
        action_ids=selectors.action_ids_of(connection),
    )
    template = "dashboard/runtime/connection_requests.html"
    if request.htmx and not request.htmx.boosted and request.htmx.target == "requests-table":
        template += "#requests-table"
    return render(request, template, context)
