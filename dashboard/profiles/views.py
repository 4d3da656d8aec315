"""Dashboard pages for connector profiles: list, create, the profile page and the pin editor."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agents import selectors as agent_selectors
from agents import services as agent_services
from connections import selectors as connection_selectors
from connections.services import pins as pin_services
from connectors.models import ConnectorVersion
from connectors.selectors import connectors_for_project
from core.forms import first_error
from dashboard.connections import panels as connection_panels
from dashboard.context import project_context
from dashboard.rollouts import panels as rollout_panels
from dashboard.rollouts import staged as staged_rollouts
from profiles import selectors, services
from profiles.models import ConnectorProfile
from profiles.permissions import get_profile_for_user
from profiles.pins import PinError, parse_pin
from projects.http import HtmxHttpRequest
from projects.permissions import Need, ProjectAccess, get_project_for_user
from projects.services import Actor, ServiceError

from .forms import (
    AgentLimitForm,
    AgentToolSwitchForm,
    PinForm,
    ProfileForm,
    ProfileNewForm,
    ProfileNewQueryForm,
)


def profile_page_panels(
    request: HtmxHttpRequest,
    access: ProjectAccess,
    profile: ConnectorProfile,
    version: ConnectorVersion | None,
) -> dict[str, Any]:
    """What the connections app (adoption, the Link account panel) and the rollouts app
    (migration banners and offer) show on the profile page, assembled from their selectors."""
    kwargs: dict[str, Any] = {
        "request": request,
        "access": access,
        "profile": profile,
        "version": version,
    }
    return {
        **connection_panels.profile_panels(**kwargs),
        **rollout_panels.profile_banners(**kwargs),
        **staged_rollouts.rollout_panel(access, profile),
    }


@require_GET
@login_required
def profile_list(request: HtmxHttpRequest, project_slug: str) -> HttpResponse:
    access = get_project_for_user(request.user, project_slug)
    profiles = list(selectors.profiles_of(access.project))
    resolved = selectors.resolve_profiles(access.project, profiles)
    panels = connection_panels.profile_counts(request=request, access=access)
    counts = panels.pop("connection_counts", {})
    rows = [(p, resolved[p.pk], selectors.stored_pin(p), counts.get(p.pk, 0)) for p in profiles]
    return render(
        request,
        "dashboard/profiles/list.html",
        project_context(request, access, nav="profiles", rows=rows, **panels),
    )


def _pin_text(raw: str | None) -> str | None:
    """The editor's blank input means "no pin" (the default resolution)."""
    return raw.strip() or None if raw is not None else None


def _suggestions(versions: list[tuple[str, int, int]]) -> list[str]:
    """Pins worth offering in the editor's list: the keywords, each line, each version."""
    majors = sorted({m for _v, m, _n in versions}, reverse=True)
    minors = sorted({(m, n) for _v, m, n in versions}, reverse=True)
    return [
        "latest",
        "latest_builtin",
        "latest_custom",
        *(f"{m}.x.x" for m in majors),
        *(f"{m}.{n}.x" for m, n in minors),
        *(v for v, _m, _n in versions),
    ]


def _pin_preview(profile: ConnectorProfile, raw: str | None) -> dict[str, Any]:
    """What ``raw`` resolves to now, how it moves, and what changes against today."""
    preview: dict[str, Any] = {"raw": raw or "", "error": None}
    try:
        pin = parse_pin(_pin_text(raw))
    except PinError as exc:
        preview["error"] = exc.message
        return preview
    change = connection_selectors.pin_change(profile, pin)
    preview.update(pin=pin, current=change.current, new=change.new, change=change)
    preview["report"] = change.report
    if change.new is None:
        preview["error"] = (
            f"“{pin.text}” matches no published version of {profile.connector.key}; "
            "it would be refused."
        )
    return preview


def _profile_context(
    request: HtmxHttpRequest, access: Any, profile: ConnectorProfile, **extra: Any
) -> dict[str, Any]:
    resolved = selectors.resolve_profile(profile)
    version = selectors.version_of(resolved)
    rows = selectors.candidate_rows(profile, limit=500)
    return project_context(
        request,
        access,
        nav="profiles",
        profile=profile,
        resolved=resolved,
        pin=selectors.stored_pin(profile),
        version=version,
        fields=services.setup_fields(version) if version else [],
        secrets_set=services.secret_keys_set(profile),
        candidates=rows,
        suggestions=_suggestions([(v, m, n) for _pk, v, m, n, _p in rows]),
        **profile_page_panels(request, access, profile, version),
        **extra,
    )


@require_GET
@login_required
def profile_detail(request: HtmxHttpRequest, project_slug: str, profile_id: UUID) -> HttpResponse:
    access, profile = get_profile_for_user(request.user, project_slug, profile_id)
    return render(
        request, "dashboard/profiles/detail.html", _profile_context(request, access, profile)
    )


@require_GET
@login_required
def pin_preview(request: HtmxHttpRequest, project_slug: str, profile_id: UUID) -> HttpResponse:
    access, profile = get_profile_for_user(request.user, project_slug, profile_id)
    form = PinForm(request.GET)
    if form.is_valid():
        preview = _pin_preview(profile, form.cleaned_data["pin"])
    else:
        preview = {"raw": "", "error": first_error(form)[1]}
    context = project_context(request, access, nav="profiles", profile=profile, preview=preview)
    return render(request, "dashboard/profiles/detail.html#pin-preview", context)


@require_http_methods(["GET", "POST"])
@login_required
def pin_save(request: HtmxHttpRequest, project_slug: str, profile_id: UUID) -> HttpResponse:
    if request.method == "GET":  # the address a refused save leaves in the browser: the page
        get_profile_for_user(request.user, project_slug, profile_id)
        return redirect("profile_detail", project_slug, profile_id)
    access, profile = get_profile_for_user(request.user, project_slug, profile_id, need=Need.MANAGE)
    form = PinForm(request.POST)
    valid = form.is_valid()
    raw = form.typed()
    try:
        if not valid:
            raise ServiceError(first_error(form)[1])
        preview = _pin_preview(profile, raw)
        change = preview.get("change")
        if form.cleaned_data.get("action") == "stage":
            staged_rollouts.stage_pin_change(request, profile, _pin_text(raw), change)
            return redirect("profile_detail", project_slug, profile.public_id)
        if change is not None and change.guarded and not form.cleaned_data["confirm"]:
            return _pin_confirmation(request, access, profile, raw, preview)
        profile = pin_services.profile_set_pin(
            actor=Actor.from_request(request), profile=profile, pin=_pin_text(raw)
        )
    except ServiceError as exc:
        context = _profile_context(
            request, access, profile, preview=_pin_preview(profile, raw), pin_error=exc.message
        )
        template = (
            "dashboard/profiles/detail.html#pin-editor"
            if request.htmx
            else "dashboard/profiles/detail.html"
        )
        return render(request, template, context, status=400)
    resolved = selectors.resolve_profile(profile)
    label = profile.pin or "the default resolution"
    now = resolved.version if resolved else "–"
    messages.success(request, f"{profile.name} is pinned to {label}; it resolves to {now}.")
    return redirect("profile_detail", project_slug, profile.public_id)


def _pin_confirmation(
    request: HtmxHttpRequest,
    access: Any,
    profile: ConnectorProfile,
    raw: str | None,
    preview: dict[str, Any],
) -> HttpResponse:
    """The step between "Save pin" and a move across a major or an authentication change:
    what will happen, the migration instead where one applies; nothing is saved yet."""
    panels = profile_page_panels(
        request, access, profile, selectors.version_of(preview["change"].current)
    )
    context = project_context(
        request,
        access,
        nav="profiles",
        profile=profile,
        preview=preview,
        change=preview["change"],
        reset=raw is None,
        migration_offer=panels.get("migration_offer"),
        migration_out=panels.get("migration_out"),
    )
    return render(request, "dashboard/profiles/confirm_pin.html", context)


@require_POST
@login_required
def profile_save(request: HtmxHttpRequest, project_slug: str, profile_id: UUID) -> HttpResponse:
    access, profile = get_profile_for_user(request.user, project_slug, profile_id, need=Need.MANAGE)
    resolved = selectors.resolve_profile(profile)
    version = selectors.version_of(resolved)
    try:
        if version is None:
            raise ServiceError("This profile resolves to no version; fix its pin first.")
        setup_keys = [field["key"] for field in services.setup_fields(version)]
        form = ProfileForm(request.POST, setup_keys=setup_keys)
        if not form.is_valid():
            raise ServiceError(first_error(form)[1])
        profile = services.profile_update(
            actor=Actor.from_request(request),
            profile=profile,
            version=version,
            name=form.cleaned_data["name"],
            is_default=form.cleaned_data["is_default"],
            values=form.setup_values(),
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return render(
            request,
            "dashboard/profiles/detail.html",
            _profile_context(request, access, profile),
            status=400,
        )
    messages.success(request, f"Profile {profile.name} saved.")
    return redirect("profile_detail", project_slug, profile.public_id)


@require_http_methods(["GET", "POST"])
@login_required
def profile_new(request: HtmxHttpRequest, project_slug: str) -> HttpResponse:
    access = get_project_for_user(request.user, project_slug, need=Need.MANAGE)
    connectors = list(connectors_for_project(access.project))
    query = ProfileNewQueryForm(request.GET)
    connector_key = query.cleaned_data["connector"] if query.is_valid() else ""
    initial: Mapping[str, Any] = {"connector_key": connector_key}
    error = None
    if request.method == "POST":
        form = ProfileNewForm(request.POST)
        initial = form.data or initial  # the page shows what was typed
        try:
            if not form.is_valid():
                raise ServiceError(first_error(form)[1])
            profile = services.profile_create(
                actor=Actor.from_request(request),
                project=access.project,
                connector_key=form.cleaned_data["connector_key"],
                name=form.cleaned_data["name"],
                pin=form.cleaned_data["pin"],
                is_default=form.cleaned_data["is_default"],
            )
        except ServiceError as exc:
            error = exc
        else:
            messages.success(request, f"Profile {profile.name} created.")
            return redirect("profile_detail", project_slug, profile.public_id)
    return render(
        request,
        "dashboard/profiles/new.html",
        project_context(
            request,
            access,
            nav="profiles",
            connectors=connectors,
            error=error,
            initial=initial,
        ),
        status=400 if error else 200,
    )


# --- Agent tools ------------------------------------------------------------------------------


def _agent_tools_context(
    request: HtmxHttpRequest, access: ProjectAccess, profile: ConnectorProfile, **extra: Any
) -> dict[str, Any]:
    tools = agent_selectors.profile_tools(access.project, profile)
    mcp_url = settings.SITE_URL.rstrip("/") + "/mcp"
    return project_context(
        request,
        access,
        nav="profiles",
        profile=profile,
        agent=tools,
        rows=[(t, json.dumps(t.input_schema, indent=2)) for t in tools.tools],
        calls=agent_selectors.mcp_calls(profile),
        mcp_url=mcp_url,
        snippet=AGENT_SNIPPET.format(url=mcp_url),
        config_json=json.dumps(
            {
                "mcpServers": {
                    "connector-hub": {
                        "type": "http",
                        "url": mcp_url,
                        "headers": {
                            "Authorization": "Bearer ${CONNECTOR_HUB_AGENT_KEY}",
                            "Connection-Id": "<connection id>",
                        },
                    }
                }
            },
            indent=2,
        ),
        **extra,
    )


AGENT_SNIPPET = """import asyncio, os

import httpx2
from mcp.client import ClientSession
from mcp.client.streamable_http import streamable_http_client

HEADERS = {{
    "Authorization": "Bearer " + os.environ["CONNECTOR_HUB_AGENT_KEY"],  # scope agent
    "Connection-Id": "<connection id>",  # or "Origin-Owner-Id": "<end user id>"
}}


async def main() -> None:
    async with (
        httpx2.AsyncClient(headers=HEADERS) as http,
        streamable_http_client("{url}", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        for tool in (await session.list_tools()).tools:
            print(tool.name, "-", tool.description)


asyncio.run(main())
"""


@require_GET
@login_required
def agent_tools(request: HtmxHttpRequest, project_slug: str, profile_id: UUID) -> HttpResponse:
    access, profile = get_profile_for_user(request.user, project_slug, profile_id)
    context = _agent_tools_context(request, access, profile)
    return render(request, "dashboard/profiles/agent_tools.html", context)


@require_POST
@login_required
def agent_tool_switch(
    request: HtmxHttpRequest, project_slug: str, profile_id: UUID
) -> HttpResponse:
    access, profile = get_profile_for_user(request.user, project_slug, profile_id, need=Need.MANAGE)
    form = AgentToolSwitchForm(request.POST)
    try:
        if not form.is_valid():
            raise ServiceError(first_error(form)[1])
        agent_services.tool_switch_set(
            actor=Actor.from_request(request),
            project=access.project,
            profile=profile,
            action_id=form.cleaned_data["action_id"],
            enabled=form.cleaned_data["enabled"],
        )
    except ServiceError as exc:
        context = _agent_tools_context(request, access, profile, agent_error=exc.message)
        return render(request, "dashboard/profiles/agent_tools.html", context, status=400)
    state = "enabled" if form.cleaned_data["enabled"] else "disabled"
    messages.success(request, f"{form.cleaned_data['action_id']} is {state} for agents.")
    return redirect("profile_agent_tools", project_slug, profile.public_id)


@require_POST
@login_required
def agent_limit(request: HtmxHttpRequest, project_slug: str, profile_id: UUID) -> HttpResponse:
    access, profile = get_profile_for_user(request.user, project_slug, profile_id, need=Need.MANAGE)
    form = AgentLimitForm(request.POST)
    try:
        if not form.is_valid():
            raise ServiceError(first_error(form)[1])
        agent_services.calls_limit_set(
            actor=Actor.from_request(request),
            project=access.project,
            profile=profile,
            calls_per_minute=form.cleaned_data["calls_per_minute"],
        )
    except ServiceError as exc:
        context = _agent_tools_context(request, access, profile, agent_error=exc.message)
        return render(request, "dashboard/profiles/agent_tools.html", context, status=400)
    messages.success(request, "The agents' calls-per-minute limit is saved.")
    return redirect("profile_agent_tools", project_slug, profile.public_id)
