"""Dashboard pages of staged rollouts: the profile page's rollout panel, the new-rollout form
and the transitions (each behind a confirmation that states what moves). Every rule is in
rollouts.services.staged; these views parse, call and answer."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from core.forms import first_error
from dashboard.context import project_context
from profiles import selectors as profile_selectors
from profiles.models import ConnectorProfile
from profiles.permissions import get_profile_for_user
from projects.http import HtmxHttpRequest
from projects.permissions import Need, ProjectAccess
from projects.services import Actor, ServiceError
from rollouts import gate as gates
from rollouts.services import staged

from .forms import ConfirmForm, RolloutForm

SERVICES = {
    "advance": staged.rollout_advance,
    "pause": staged.rollout_pause,
    "resume": staged.rollout_resume,
    "promote": staged.rollout_promote,
    "rollback": staged.rollout_rollback,
}


def rollout_panel(access: ProjectAccess, profile: ConnectorProfile) -> dict[str, Any]:
    """The profile page's rollout panel: the rollout as ``rollouts.gate.rollout_view`` shows
    it, and the versions a new one could stage."""
    view = gates.rollout_view(profile)
    return {"rollout_view": view}


def _what_moves(view: gates.RolloutView, verb: str) -> str:
    rollout = view.rollout
    new, old = rollout.to_version.version, rollout.from_version.version
    steps = rollout.steps
    match verb:
        case "advance":
            nxt = steps[min(rollout.step_index + 1, len(steps) - 1)]
            return (
                f"The cohort grows from {rollout.percent} % to {nxt} % of "
                f"{view.connection_count} connections, now, without waiting for the gate: "
                f"the connections added are served {new}."
            )
        case "pause":
            return (
                f"The rollout stops advancing; the {rollout.cohort_size} connections in the "
                f"cohort keep {new}."
            )
        case "resume":
            return "The rollout runs again; the gate counts afresh from now."
        case "promote":
            return (
                f"Every connection ({view.connection_count}) is served {new}; the profile's pin "
                f"becomes {rollout.target_pin or 'the default resolution'}."
            )
        case _:
            return (
                f"Every connection is served {old} again, the {rollout.cohort_size} in the "
                "cohort included."
            )


@require_http_methods(["GET", "POST"])
@login_required
def rollout_transition(
    request: HtmxHttpRequest, project_slug: str, profile_id: UUID, verb: str
) -> HttpResponse:
    """GET: the confirmation (what moves); POST with ``confirmed``: the transition."""
    if verb not in SERVICES:
        raise Http404("No such transition.")
    access, profile = get_profile_for_user(request.user, project_slug, profile_id, need=Need.MANAGE)
    view = gates.rollout_view(profile)
    if view is None:
        raise Http404("This profile has no rollout.")
    form = ConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and form.cleaned_data["confirmed"] == "yes":
        try:
            SERVICES[verb](actor=Actor.from_request(request), rollout=view.rollout)
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Rollout: {verb} done.")
        return redirect("profile_detail", project_slug, profile.public_id)
    context = project_context(
        request,
        access,
        nav="profiles",
        profile=profile,
        view=view,
        verb=verb,
        what=_what_moves(view, verb),
        allowed=verb in view.allowed,
    )
    return render(request, "dashboard/rollouts/rollout_confirm.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def rollout_new(request: HtmxHttpRequest, project_slug: str, profile_id: UUID) -> HttpResponse:
    access, profile = get_profile_for_user(request.user, project_slug, profile_id, need=Need.MANAGE)
    form = RolloutForm(request.POST or None, initial={"target_pin": profile.pin or ""})
    error = None
    if request.method == "POST":
        try:
            if not form.is_valid():
                raise ServiceError(first_error(form)[1])
            data = form.cleaned_data
            staged.rollout_start(
                actor=Actor.from_request(request),
                profile=profile,
                to_version=data["to_version"],
                target_pin=data["target_pin"] or None,
                keep_pin=False,
                knobs=staged.Settings(
                    steps=data["steps"],
                    min_soak_minutes=data["min_soak_minutes"],
                    min_requests=data["min_requests"],
                    max_error_rate_increase=data["max_error_rate_increase"],
                    on_regression=data["on_regression"],
                    auto_advance=data["auto_advance"],
                    auto_promote=data["auto_promote"],
                ),
            )
        except ServiceError as exc:
            error = exc.message
        else:
            messages.success(request, "Rollout started.")
            return redirect("profile_detail", project_slug, profile.public_id)
    candidates = [v for _pk, v, _m, _n, _p in profile_selectors.candidate_rows(profile, limit=50)]
    context = project_context(
        request,
        access,
        nav="profiles",
        profile=profile,
        form=form,
        error=error,
        candidates=candidates,
        stable=profile_selectors.resolve_profile(profile),
    )
    return render(
        request, "dashboard/rollouts/rollout_new.html", context, status=400 if error else 200
    )


def stage_pin_change(
    request: HtmxHttpRequest, profile: ConnectorProfile, pin: str | None, change: Any
) -> None:
    """The pin editor's "Stage this change": a rollout (default steps) to the version the new
    pin resolves to, whose promotion writes that pin; ServiceError when it moves nothing."""
    if change is None or not change.moves or change.new is None:
        raise ServiceError("This pin serves the same version: there is nothing to stage.")
    staged.rollout_start(
        actor=Actor.from_request(request),
        profile=profile,
        to_version=change.new.version,
        to_builtin=change.new.builtin,
        keep_pin=False,
        target_pin=pin,
    )
    messages.success(
        request, f"Rollout to {change.new.version} started; the pin changes at promotion."
    )
