"""Reads of connector profiles, scoped to a project."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from connectors.models import ConnectorVersion
from connectors.selectors import CUSTOM_FIRST
from projects.models import Project

from .models import ConnectorProfile
from .pins import Pin, PinError, parse_pin
from .resolution import (
    Resolved,
    beats,
    candidates,
    pin_accepts,
    resolve,
    resolve_many,
    resolve_uncached,
)


def profiles_of(project: Project) -> QuerySet[ConnectorProfile]:
    return ConnectorProfile.objects.filter(project=project).select_related("connector", "project")


def stored_pin(profile: ConnectorProfile) -> Pin:
    """The profile's pin; a stored pin is always valid (it was checked when set)."""
    return parse_pin(profile.pin)


def resolve_profile(profile: ConnectorProfile) -> Resolved | None:
    return resolve(profile.project, profile.connector_id, stored_pin(profile))


def resolve_profiles(
    project: Project, profiles: list[ConnectorProfile]
) -> dict[int, Resolved | None]:
    """Resolutions of a page of profiles at once (constant queries): profile id → resolution."""
    pins = {p.pk: stored_pin(p) for p in profiles}
    resolved = resolve_many(project, [(p.connector_id, pins[p.pk]) for p in profiles])
    return {p.pk: resolved[(p.connector_id, pins[p.pk].text)] for p in profiles}


def candidate_rows(
    profile: ConnectorProfile, *, limit: int | None = None
) -> list[tuple[int, str, int, int, int | None]]:
    """Every published candidate of the profile, highest first: (id, version, major, minor,
    owning project id or None for built-in)."""
    rows = (
        candidates(profile.project, profile.connector_id)
        .order_by("-version_key", CUSTOM_FIRST)
        .values_list("pk", "version", "major", "minor", "project_id")
    )
    return list(rows[:limit] if limit else rows)


def profiles_resolving_to(version: ConnectorVersion) -> list[ConnectorProfile]:
    """The "subscribers" of a version: profiles whose resolution is that version right now."""
    profiles = ConnectorProfile.objects.filter(connector_id=version.connector_id).select_related(
        "project"
    )
    if version.project_id is not None:
        profiles = profiles.filter(project_id=version.project_id)
    return [
        p
        for p in profiles
        if (r := resolve_uncached(p.project, p.connector_id, stored_pin(p))) and r.id == version.pk
    ]


@dataclass(frozen=True)
class Move:
    profile: ConnectorProfile
    current: Resolved | None


def profiles_that_would_move(project: Project, version: ConnectorVersion) -> list[Move]:
    """Before publishing ``version`` in ``project``: which profiles would resolve to it."""
    moves = []
    for profile in profiles_of(project).filter(connector_id=version.connector_id):
        try:
            pin = stored_pin(profile)
        except PinError:  # pragma: no cover - stored pins are validated
            continue
        current = resolve_profile(profile)
        if current is not None and current.id == version.pk:
            continue
        if pin_accepts(pin, version, project) and beats(version, current):
            moves.append(Move(profile, current))
    return moves
