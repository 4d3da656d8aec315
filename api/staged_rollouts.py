"""Staged rollouts: ``/connector_profiles/{id}/rollout`` and its transitions (docs/api.md "Staged
rollouts"). The service layer (rollouts.services.staged) holds every rule; this module parses,
calls it and shapes the answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from django.http import Http404, HttpRequest
from ninja import Field, Router, Schema, Status

from core.validation import Line
from profiles.models import ConnectorProfile
from rollouts import gate as gates
from rollouts.models import Rollout
from rollouts.services import staged

from .connectors import _actor
from .profiles import _profile

router = Router(tags=["staged rollouts"])


class RolloutIn(Schema):
    to_version: Line = Field(max_length=255, description="A published candidate of the profile.")
    target_pin: Line | None = Field(
        default=None,
        max_length=255,
        description="The pin promotion writes; default: the profile's pin. It must resolve to "
        "to_version now.",
    )
    steps: list[int] = Field(
        default_factory=lambda: [5, 25, 50, 100],
        min_length=1,
        max_length=staged.MAX_STEPS,
        description="Ascending percentages, the last 100.",
    )
    min_soak_minutes: int = Field(10, ge=0, le=staged.SOAK_MAX)
    min_requests: int = Field(20, ge=1, le=staged.REQUESTS_MAX)
    max_error_rate_increase: float = Field(0.05, ge=0, le=1)
    on_regression: Literal["pause", "rollback"] = "pause"
    auto_advance: bool = True
    auto_promote: bool = False
    include: list[UUID] = Field(default_factory=list, max_length=staged.MAX_LISTED)
    exclude: list[UUID] = Field(default_factory=list, max_length=staged.MAX_LISTED)


class VersionOut(Schema):
    version: str
    builtin: bool


class FiguresOut(Schema):
    requests: int
    errors: int
    error_rate: float


class GateOut(Schema):
    stable: FiguresOut
    candidate: FiguresOut
    verdict: Literal["pass", "fail", "inconclusive"]


class SettingsOut(Schema):
    min_soak_minutes: int
    min_requests: int
    max_error_rate_increase: float
    on_regression: Literal["pause", "rollback"]
    auto_advance: bool
    auto_promote: bool
    include: list[UUID]
    exclude: list[UUID]


class RolloutOut(Schema):
    id: UUID
    profile_id: UUID
    state: Literal["running", "paused", "promoted", "rolled_back"]
    from_version: VersionOut
    to_version: VersionOut
    target_pin: str | None
    steps: list[int]
    step_index: int
    percent: int
    cohort_size: int
    connection_count: int
    started_at: datetime
    step_started_at: datetime
    ended_at: datetime | None
    pause_reason: Literal["regression", "manual", "expired"] | None
    gate: GateOut
    settings: SettingsOut


def rollout_body(rollout: Rollout) -> dict[str, Any]:
    return {
        "id": rollout.public_id,
        "profile_id": rollout.profile.public_id,
        "state": rollout.state,
        "from_version": {
            "version": rollout.from_version.version,
            "builtin": rollout.from_version.project_id is None,
        },
        "to_version": {
            "version": rollout.to_version.version,
            "builtin": rollout.to_version.project_id is None,
        },
        "target_pin": rollout.target_pin,
        "steps": rollout.steps,
        "step_index": rollout.step_index,
        "percent": rollout.percent,
        "cohort_size": rollout.cohort_size,
        "connection_count": gates.connection_count(rollout),
        "started_at": rollout.started_at,
        "step_started_at": rollout.step_started_at,
        "ended_at": rollout.ended_at,
        "pause_reason": rollout.pause_reason or None,
        "gate": gates.gate_of(rollout).as_dict(),
        "settings": {
            "min_soak_minutes": rollout.min_soak_minutes,
            "min_requests": rollout.min_requests,
            "max_error_rate_increase": rollout.max_error_rate_increase,
            "on_regression": rollout.on_regression,
            "auto_advance": rollout.auto_advance,
            "auto_promote": rollout.auto_promote,
            "include": rollout.include,
            "exclude": rollout.exclude,
        },
    }


def _rollout(profile: ConnectorProfile) -> Rollout:
    rollout = gates.rollout_of_profile(profile)
    if rollout is None:
        raise NoRollout
    return rollout


class NoRollout(Http404):
    code = "no_rollout"

    def __init__(self) -> None:
        super().__init__("This profile never had a rollout.")


@router.post(
    "/connector_profiles/{profile_id}/rollout",
    response={201: RolloutOut},
    summary="Start a staged rollout",
    description="Moves the profile from the version it serves now to `to_version` in steps, "
    "each gated on the candidate's error rate against the stable version's. 409 "
    "`rollout_active` while the profile has a running or paused rollout; 400 with `fields` "
    "for a version that is no published candidate, equals the stable one, a target pin that "
    "does not resolve to it, or a setting out of range.",
)
def rollout_start(
    request: HttpRequest, profile_id: UUID, payload: RolloutIn
) -> Status[dict[str, Any]]:
    profile = _profile(request, profile_id)
    rollout = staged.rollout_start(
        actor=_actor(request),
        profile=profile,
        to_version=payload.to_version,
        target_pin=payload.target_pin,
        keep_pin="target_pin" not in payload.model_fields_set,
        knobs=staged.Settings(
            steps=payload.steps,
            min_soak_minutes=payload.min_soak_minutes,
            min_requests=payload.min_requests,
            max_error_rate_increase=payload.max_error_rate_increase,
            on_regression=payload.on_regression,
            auto_advance=payload.auto_advance,
            auto_promote=payload.auto_promote,
        ),
        include=payload.include,
        exclude=payload.exclude,
    )
    return Status(201, rollout_body(rollout))


@router.get(
    "/connector_profiles/{profile_id}/rollout",
    response=RolloutOut,
    summary="The profile's rollout",
    description="The running or paused rollout, else the latest ended one; 404 `no_rollout` "
    "when there never was one.",
)
def rollout_detail(request: HttpRequest, profile_id: UUID) -> dict[str, Any]:
    return rollout_body(_rollout(_profile(request, profile_id)))


TRANSITIONS = {
    "advance": (staged.rollout_advance, "Move to the next step now, without the gate"),
    "pause": (staged.rollout_pause, "Pause (the cohort keeps its version)"),
    "resume": (staged.rollout_resume, "Resume a paused rollout (the gate counts afresh)"),
    "promote": (staged.rollout_promote, "Promote: the pin becomes the target pin"),
    "rollback": (staged.rollout_rollback, "Roll back: every connection on the stable version"),
}


def _transition_view(verb: str) -> Any:
    service, summary = TRANSITIONS[verb]

    def view(request: HttpRequest, profile_id: UUID) -> dict[str, Any]:
        rollout = _rollout(_profile(request, profile_id))
        return rollout_body(service(actor=_actor(request), rollout=rollout))

    view.__name__ = f"rollout_{verb}"
    router.post(
        f"/connector_profiles/{{profile_id}}/rollout/{verb}",
        response=RolloutOut,
        summary=summary,
        description="409 `invalid_transition` when the rollout's state does not allow it "
        "(e.g. advance a paused rollout, resume an ended one); 404 `no_rollout`.",
    )(view)
    return view


for _verb in TRANSITIONS:
    _transition_view(_verb)
