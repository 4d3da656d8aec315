"""Connector profiles: the "Connector profiles" section of docs/api.md."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import Http404, HttpRequest
from ninja import Field, Router, Schema, Status

from connections import selectors as connection_selectors
from connections.services import pins as pin_services
from connectors.models import PLATFORM_OWNER
from core.validation import Line
from profiles import selectors, services
from profiles.models import ConnectorProfile
from profiles.resolution import Resolved
from rollouts.gate import active_rollout

from .connectors import _actor, _project

router = Router(tags=["connector profiles"])


class ProfileIn(Schema):
    name: Line = Field(max_length=services.NAME_MAX_CHARS)
    connector_key: Line = Field(max_length=64)
    pinned_version: Line | None = Field(default=None, max_length=255)
    is_default: bool = False


class PinIn(Schema):
    pinned_version: Line | None = Field(max_length=255)


class ResolvedOut(Schema):
    version: str
    builtin: bool
    owner: str


class ProfileRolloutOut(Schema):
    id: UUID
    state: str = Field(description="running or paused.")
    to_version: str
    percent: int


class ProfileOut(Schema):
    id: UUID
    name: str
    connector_key: str
    pinned_version: str | None
    is_default: bool
    resolved_version: ResolvedOut | None = Field(
        description="What the profile serves; during a staged rollout its stable version."
    )
    connection_count: int
    rollout: ProfileRolloutOut | None = Field(
        description="The running or paused staged rollout, if any."
    )


class CandidateOut(Schema):
    version: str
    pinned: bool
    builtin: bool
    owner: str


def profile_body(
    profile: ConnectorProfile,
    resolved: Resolved | None = None,
    connection_count: int | None = None,
) -> dict[str, Any]:
    """``resolved`` and ``connection_count`` are looked up when not given (one query each)."""
    if resolved is None:
        resolved = selectors.resolve_profile(profile)
    if connection_count is None:
        connection_count = connection_selectors.count_on_profile(profile)
    return {
        "id": profile.public_id,
        "name": profile.name,
        "connector_key": profile.connector.key,
        "pinned_version": profile.pin,
        "is_default": profile.is_default,
        "resolved_version": (
            {"version": resolved.version, "builtin": resolved.builtin, "owner": resolved.owner}
            if resolved
            else None
        ),
        "connection_count": connection_count,
        "rollout": rollout_summary(profile),
    }


def rollout_summary(profile: ConnectorProfile) -> dict[str, Any] | None:
    """The profile's running or paused rollout in brief (no query without one)."""
    if profile.rollout_key is None:
        return None
    rollout = active_rollout(profile)
    if rollout is None:  # ended between the two reads
        return None
    return {
        "id": rollout.public_id,
        "state": rollout.state,
        "to_version": rollout.to_version.version,
        "percent": rollout.percent,
    }


def _profile(request: HttpRequest, profile_id: UUID) -> ConnectorProfile:
    profile = selectors.profile_of(_project(request), profile_id)
    if profile is None:
        raise Http404("No such connector profile in this project.")
    return profile


@router.get("/connector_profiles", response=list[ProfileOut], summary="Profiles of the project")
def profile_list(request: HttpRequest) -> list[dict[str, Any]]:
    project = _project(request)
    profiles = list(selectors.profiles_of(project))
    resolved = selectors.resolve_profiles(project, profiles)
    counts = connection_selectors.counts_by_profile(project)
    return [profile_body(p, resolved[p.pk], counts.get(p.pk, 0)) for p in profiles]


@router.post("/connector_profiles", response={201: ProfileOut}, summary="Create a profile")
def profile_create(request: HttpRequest, payload: ProfileIn) -> Status[dict[str, Any]]:
    profile = services.profile_create(
        actor=_actor(request),
        project=_project(request),
        connector_key=payload.connector_key,
        name=payload.name,
        pin=payload.pinned_version,
        is_default=payload.is_default,
    )
    return Status(201, profile_body(profile, connection_count=0))


@router.get("/connector_profiles/{profile_id}", response=ProfileOut, summary="One profile")
def profile_detail(request: HttpRequest, profile_id: UUID) -> dict[str, Any]:
    return profile_body(_profile(request, profile_id))


@router.put(
    "/connector_profiles/{profile_id}/pinned_version", response=ProfileOut, summary="Set the pin"
)
def pin_set(request: HttpRequest, profile_id: UUID, payload: PinIn) -> dict[str, Any]:
    profile = pin_services.profile_set_pin(
        actor=_actor(request), profile=_profile(request, profile_id), pin=payload.pinned_version
    )
    return profile_body(profile)


@router.delete(
    "/connector_profiles/{profile_id}/pinned_version",
    response=ProfileOut,
    summary="Remove the pin (default resolution)",
)
def pin_remove(request: HttpRequest, profile_id: UUID) -> dict[str, Any]:
    profile = pin_services.profile_set_pin(
        actor=_actor(request), profile=_profile(request, profile_id), pin=None
    )
    return profile_body(profile)


@router.get(
    "/connector_profiles/{profile_id}/versions",
    response=list[CandidateOut],
    summary="Every published candidate, highest first; pinned marks the resolution",
)
def profile_versions(request: HttpRequest, profile_id: UUID) -> list[dict[str, Any]]:
    profile = _profile(request, profile_id)
    resolved = selectors.resolve_profile(profile)
    return [
        {
            "version": version,
            "pinned": resolved is not None and pk == resolved.id,
            "builtin": project_id is None,
            "owner": PLATFORM_OWNER if project_id is None else profile.project.slug,
        }
        for pk, version, _major, _minor, project_id in selectors.candidate_rows(profile)
    ]
