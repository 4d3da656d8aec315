"""Reads of connector profiles, scoped to a project."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple
from uuid import UUID

from django.db.models import QuerySet

from connectors.changes import ChangeReport, compare_definitions
from connectors.models import Connector, ConnectorVersion
from connectors.selectors import definitions_by_pk, versions_for_project
from connectors.services import PushPreview
from core import baked
from projects.models import Project

from .models import ConnectorProfile
from .pins import Pin, PinError, parse_pin
from .resolution import (
    Resolved,
    beats,
    candidates,
    pin_accepts,
    resolve_many,
    resolve_uncached,
)
from .serving import stable_version


def profiles_of(project: Project) -> QuerySet[ConnectorProfile]:
    return ConnectorProfile.objects.filter(project=project).select_related("connector", "project")


class ProfileChoice(NamedTuple):
    """What a list's profile filter and rows show of a profile (no setup values or secrets)."""

    pk: int
    public_id: UUID
    name: str
    connector_id: int
    connector_key: str


def profile_choices(project: Project) -> list[ProfileChoice]:
    """The project's profiles as ``ProfileChoice``, by connector key and name: plain tuples,
    not models (a tenth of the cost of loading the profiles and their connectors)."""
    return [ProfileChoice(*row) for row in baked.rows("profile_choices", _choices, project.pk)]


def _choices(project_id: int) -> QuerySet[ConnectorProfile, tuple[Any, ...]]:
    return (
        ConnectorProfile.objects.filter(project_id=project_id)
        .order_by("connector__key", "name")
        .values_list("pk", "public_id", "name", "connector_id", "connector__key")
    )


def profile_of(project: Project, profile_id: UUID) -> ConnectorProfile | None:
    return profiles_of(project).filter(public_id=profile_id).first()


def stored_pin(profile: ConnectorProfile) -> Pin:
    """The profile's pin; a stored pin is always valid (it was checked when set)."""
    return parse_pin(profile.pin)


def resolve_profile(profile: ConnectorProfile) -> Resolved | None:
    """What the profile serves (outside a staged rollout's cohort: its stable version)."""
    return stable_version(profile)


def version_of(resolved: Resolved | None) -> ConnectorVersion | None:
    """The version row a resolution names (None for no resolution, or a row gone since)."""
    return ConnectorVersion.objects.filter(pk=resolved.id).first() if resolved else None


def resolve_profiles(
    project: Project, profiles: list[ConnectorProfile]
) -> dict[int, Resolved | None]:
    """Resolutions of a page of profiles at once (constant queries): profile id → resolution."""
    pins = {p.pk: stored_pin(p) for p in profiles}
    resolved = resolve_many(project, [(p.connector_id, pins[p.pk]) for p in profiles])
    found = {p.pk: resolved[(p.connector_id, pins[p.pk].text)] for p in profiles}
    for p in profiles:
        if p.rollout_key is not None:  # a staged rollout's stable version (rare: one query)
            found[p.pk] = stable_version(p)
    return found


def candidate_rows(
    profile: ConnectorProfile, *, limit: int | None = None
) -> list[tuple[int, str, int, int, int | None]]:
    """Every published candidate of the profile, highest first: (id, version, major, minor,
    owning project id or None for built-in)."""
    rows = (
        candidates(profile.project, profile.connector_id)
        .highest_first()
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
        if version.pk in (p.rollout_from_id, p.rollout_to_id)  # a staged rollout serves both
        or (
            p.rollout_key is None
            and (r := resolve_uncached(p.project, p.connector_id, stored_pin(p)))
            and r.id == version.pk
        )
    ]


@dataclass(frozen=True)
class PinChange:
    """What a new pin does to a profile: the version it resolves to now and after, the change
    report from the one to the other (in the move's direction), and the connections on the
    profile when it moves (all of them: they move; counted by
    ``connections.selectors.pin_change``, 0 here)."""

    current: Resolved | None
    new: Resolved | None
    report: ChangeReport | None
    connections: int = 0

    @property
    def moves(self) -> bool:
        return self.new is not None and (self.current is None or self.current.id != self.new.id)

    @property
    def crosses_major(self) -> bool:
        if not (self.moves and self.current and self.new):
            return False
        return self.current.version.split(".")[0] != self.new.version.split(".")[0]

    @property
    def reauth_required(self) -> bool:
        return bool(self.report and self.report.reauth_required)

    @property
    def level(self) -> str:
        if self.report is not None:
            return self.report.level
        return "major" if self.crosses_major else "none"

    @property
    def guarded(self) -> bool:
        """A move the dashboard asks to confirm: across a major, one whose change report is
        major (either direction: a downgrade that removes an action or a field breaks its
        callers) or an authentication change."""
        major = self.report is not None and self.report.level == "major"
        return self.moves and (self.crosses_major or major or self.reauth_required)


def pin_change(profile: ConnectorProfile, pin: Pin) -> PinChange:
    """What setting ``pin`` would change (the preview, the confirmation step), without the
    connections it moves (``connections.selectors.pin_change`` counts them)."""
    current = resolve_profile(profile)
    new = resolve_uncached(profile.project, profile.connector_id, pin)
    report = None
    if current is not None and new is not None and new.id != current.id:
        # In the direction of the move, a downgrade included: going back from a version that
        # added an action removes it, which breaks its callers (major).
        definitions = definitions_by_pk([current.id, new.id])
        report = compare_definitions(
            definitions[current.id], definitions[new.id], previous_version=current.version
        )
    return PinChange(current, new, report)


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
        if profile.rollout_key is not None:
            continue  # a staged rollout serves its two versions whatever is published
        current = resolve_profile(profile)
        if current is not None and current.id == version.pk:
            continue
        if pin_accepts(pin, version, project) and beats(version, current):
            moves.append(Move(profile, current))
    return moves


def profiles_moved_by_publish(project: Project, preview: PushPreview) -> list[Move]:
    """The publish preview: profiles of this project that would resolve to the new version."""
    connector = Connector.objects.filter(key=preview.parsed.key).first()
    if connector is None or preview.conflict:
        return []
    candidate = preview.existing or ConnectorVersion(connector=connector, project=project)
    candidate.set_version(preview.parsed.version)
    return profiles_that_would_move(project, candidate)


# --- What the connector pages call latest and default -------------------------------------


@dataclass(frozen=True)
class Headline:
    """``latest``: what the ``latest`` pin resolves to (custom precedence, docs/concepts.md);
    ``default``: what the project's default profile for the connector resolves to (the
    default resolution when it has none)."""

    latest_id: int | None
    default_id: int | None


def headline_versions(project: Project, connector: Connector) -> Headline:
    latest = resolve_uncached(project, connector.pk, parse_pin("latest"))
    default_profile = ConnectorProfile.objects.filter(
        project=project, connector=connector, is_default=True
    ).first()
    default = (
        resolve_uncached(project, connector.pk, parse_pin(default_profile.pin))
        if default_profile
        else latest
    )
    return Headline(
        latest_id=latest.id if latest else None, default_id=default.id if default else None
    )


def version_by_name(
    project: Project, connector: Connector, name: str, *, owner: str | None = None
) -> ConnectorVersion | None:
    """A version by number, or the aliases ``latest`` / ``default``; custom wins a tie."""
    if name in ("latest", "default"):
        headline = headline_versions(project, connector)
        pk = headline.latest_id if name == "latest" else headline.default_id
        return versions_for_project(project, connector).filter(pk=pk).first() if pk else None
    versions = versions_for_project(project, connector).filter(version=name)
    if owner == "platform":
        versions = versions.filter(project__isnull=True)
    elif owner:
        versions = versions.filter(project__slug=owner)
    # Published before a draft, then custom precedence (the project's own before a built-in).
    return versions.published_first().first()


@dataclass(frozen=True)
class Available:
    """One connector an end user of the project can connect (docs/api.md "Connections":
    ``/connections/available``)."""

    connector_key: str
    title: str
    icon: str
    auth_type: str
    profiles: list[tuple[ConnectorProfile, Resolved | None]]
    config_fields: list[dict[str, Any]]


def available_to_connect(project: Project) -> list[Available]:
    """Connectors with at least one profile in the project, their profiles and resolved
    versions, and the config fields of the default profile's version (else the first's).
    Constant queries: profiles, resolutions (cached), definitions."""
    profiles = list(profiles_of(project).order_by("connector__key", "-is_default", "name"))
    resolved = resolve_profiles(project, profiles)
    definitions = definitions_by_pk({r.id for r in resolved.values() if r is not None})
    by_connector: dict[str, list[ConnectorProfile]] = {}
    for profile in profiles:
        by_connector.setdefault(profile.connector.key, []).append(profile)
    out = []
    for key, group in by_connector.items():
        chosen = next((p for p in group if p.is_default), group[0])
        version = resolved[chosen.pk]
        definition = definitions.get(version.id, {}) if version else {}
        info = definition.get("info") or {}
        auth = definition.get("authentication") or {}
        out.append(
            Available(
                connector_key=key,
                title=str(info.get("title") or key),
                icon=str((info.get("assets") or {}).get("icon") or ""),
                auth_type=str(auth.get("type") or ""),
                profiles=[(p, resolved[p.pk]) for p in group],
                config_fields=[f for f in auth.get("configFields") or [] if isinstance(f, dict)],
            )
        )
    return out
