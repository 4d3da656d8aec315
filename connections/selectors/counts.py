"""Connection counts read from the counters (connections.counters): version adoption, per
profile, on one profile."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

from django.db.models import Count, QuerySet
from django.db.models.fields.json import KT

from connectors.models import Connector, ConnectorVersion
from core import freshness
from profiles import selectors as profile_selectors
from profiles.models import ConnectorProfile
from profiles.pins import Pin
from profiles.serving import in_rollout, serving_version
from projects.models import Project

from .. import counters, rbac
from ..models import (
    Connection,
)

# --- Version adoption --------------------------------------------------------------------------


class AdoptionRow(NamedTuple):
    version: str  # the version number, or "unresolved"
    now: int  # connections that version serves now
    last_served: int  # connections whose last request or check it served


def adoption(
    project: Project,
    *,
    viewer: rbac.Viewer | None = None,
    connector_id: int | None = None,
    profile_id: int | None = None,
) -> list[AdoptionRow]:
    """How many of the connections ``viewer`` may see each version serves now (what they
    resolve to now: ``serving_now``) and how many it last served (``resolved_version``, the
    version of their last request or check), highest version first. For those who see every
    connection: read from the counters (``connections.counters``), the same cost at any size;
    a member's own, smaller scope (grants) is counted live."""
    rows = Connection.objects.filter(project=project)
    if viewer is not None and not viewer.sees_all:
        rows = rbac.scope(viewer, rows)
    if connector_id is not None:
        rows = rows.filter(connector_id=connector_id)
    if profile_id is not None:
        rows = rows.filter(profile_id=profile_id)
    if viewer is None or viewer.sees_all:
        groups = counters.by_profile_and_version(
            project.pk, connector_id=connector_id, profile_id=profile_id
        )
    else:
        groups = [
            (profile, version or 0, n)
            for profile, version, n in rows.values_list("profile_id", "resolved_version_id")
            .annotate(n=Count("pk"))
            .values_list("profile_id", "resolved_version_id", "n")
            .order_by()
        ]
    last: dict[int, int] = {}
    for _profile, version, n in groups:
        last[version] = last.get(version, 0) + n
    now = serving_now(project, groups, rows)
    ids = (now.keys() | last.keys()) - {0}
    labels = ConnectorVersion.objects.filter(pk__in=ids).order_by("-version_key")
    result = [
        AdoptionRow(number, now.pop(pk, 0), last.pop(pk, 0))
        for pk, number in labels.values_list("pk", "version")
    ]
    # Version 0, or one deleted meanwhile: unresolved.
    unresolved = AdoptionRow("unresolved", sum(now.values()), sum(last.values()))
    return [*result, unresolved] if unresolved.now or unresolved.last_served else result


def serving_now(
    project: Project, groups: list[tuple[int, int, int]], rows: QuerySet[Connection]
) -> dict[int, int]:
    """Version id (0: none) → how many of ``groups``' connections it serves now, by
    ``profiles.serving.serving_version``, the one function that says what serves a connection:
    a profile's connections without a staged rollout are all served its resolution (counted
    per profile, from ``groups``); those of a profile in a rollout are served by cohort, so
    they are read one by one (their public ids, from ``rows``: the reader's scope)."""
    profile_ids = {profile for profile, _version, _n in groups}
    if not profile_ids:
        return {}
    profiles = {
        p.pk: p
        for p in ConnectorProfile.objects.filter(project=project, pk__in=profile_ids)
        .select_related("project")
        .order_by()
    }
    now: dict[int, int] = {}
    for profile_id, _version, n in groups:
        profile = profiles.get(profile_id)
        if profile is None or in_rollout(profile):
            continue
        found = serving_version(profile, "").resolved
        now[found.id if found else 0] = now.get(found.id if found else 0, 0) + n
    for profile in profiles.values():
        if not in_rollout(profile):
            continue
        for public_id in rows.filter(profile=profile).values_list("public_id", flat=True):
            found = serving_version(profile, public_id).resolved
            now[found.id if found else 0] = now.get(found.id if found else 0, 0) + 1
    return now


def counts_by_profile(project: Project, viewer: rbac.Viewer | None = None) -> dict[int, int]:
    """Connections per profile, among those ``viewer`` may see: from the counters for None
    (an API key) and those who see all; a member's scope (grants) counted live."""
    if viewer is None or viewer.sees_all:
        return counters.by_profile(project.pk)
    rows = rbac.scope(viewer, Connection.objects.filter(project=project))
    return dict(
        rows.values_list("profile_id").annotate(n=Count("pk")).values_list("profile_id", "n")
    )


@dataclass(frozen=True, slots=True)
class VersionLabel:
    number: str
    title: str
    icon: str


def version_labels(version_ids: set[int | None]) -> dict[int, VersionLabel]:
    """Number, title and icon (from ``info``) of a page's versions, without loading their
    whole definitions: version id → label. Held in the per-process layer (core.freshness):
    every publish, overwrite and delete of a version moves the epoch that empties it; at most
    one query, for the versions not held."""
    ids = {pk for pk in version_ids if pk}
    labels: dict[int, VersionLabel] = {}
    for pk in ids:
        held = freshness.local_get(f"version-label:{pk}")
        if held is not freshness.MISS:
            labels[pk] = held
    missing = ids - labels.keys()
    if missing:
        rows = ConnectorVersion.objects.filter(pk__in=missing).values_list(
            "pk", "version", KT("definition__info__title"), KT("definition__info__assets__icon")
        )
        for pk, number, title, icon in rows:
            labels[pk] = VersionLabel(number, title or "", icon or "")
            freshness.local_set(f"version-label:{pk}", labels[pk])
    return labels


def connector_keys(known: dict[int, str], connections: list[Connection]) -> dict[int, str]:
    """Connector id → key for a page of connections: ``known`` (the project's profiles'
    connectors, already loaded), plus one query for any connector a row has beyond those."""
    missing = {c.connector_id for c in connections} - known.keys()
    if not missing:
        return known
    found = Connector.objects.filter(pk__in=missing).values_list("pk", "key")
    return {**known, **dict(found)}


def count_on_profile(profile: ConnectorProfile) -> int:
    """Every connection on the profile (an API key sees all of its project's): a counter."""
    return counters.on_profile(profile.pk)


def pin_change(profile: ConnectorProfile, pin: Pin) -> profile_selectors.PinChange:
    """What setting ``pin`` would change (``profiles.selectors.pin_change``: the preview and
    the confirmation step), with the connections it moves counted: every one on the profile
    when it moves to another version."""
    change = profile_selectors.pin_change(profile, pin)
    return replace(change, connections=count_on_profile(profile)) if change.moves else change
