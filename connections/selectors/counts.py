"""Connection counts read from the counters (connections.counters): version adoption, per
profile, on one profile."""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.db.models import (
    Count,
)
from django.db.models.fields.json import KT

from connectors.models import Connector, ConnectorVersion
from core import freshness
from profiles import selectors as profile_selectors
from profiles.models import ConnectorProfile
from profiles.pins import Pin
from projects.models import Project

from .. import counters, rbac
from ..models import (
    Connection,
)

# --- Version adoption --------------------------------------------------------------------------


def adoption(
    project: Project,
    *,
    viewer: rbac.Viewer | None = None,
    connector_id: int | None = None,
    profile_id: int | None = None,
) -> list[tuple[str, int]]:
    """How many of the connections ``viewer`` may see are on each version now (their last
    resolution), highest version first. For those who see every connection: read from the
    counters (``connections.counters``), the same cost at any size; a member's own, smaller
    scope (grants) is counted live."""
    if viewer is None or viewer.sees_all:
        return _adoption_counted(project, connector_id=connector_id, profile_id=profile_id)
    rows = rbac.scope(viewer, Connection.objects.filter(project=project))
    if connector_id is not None:
        rows = rows.filter(connector_id=connector_id)
    if profile_id is not None:
        rows = rows.filter(profile_id=profile_id)
    counts = list(
        rows.values("resolved_version__version", "resolved_version__version_key")
        .annotate(n=Count("pk"))
        .order_by("-resolved_version__version_key")
    )
    return [(r["resolved_version__version"] or "unresolved", r["n"]) for r in counts]


def _adoption_counted(
    project: Project, *, connector_id: int | None, profile_id: int | None
) -> list[tuple[str, int]]:
    per_version = counters.by_version(project.pk, connector_id=connector_id, profile_id=profile_id)
    versions = ConnectorVersion.objects.filter(pk__in=[pk for pk in per_version if pk])
    labels = versions.order_by("-version_key").values_list("pk", "version")
    result = [(number, per_version.pop(pk)) for pk, number in labels]
    unresolved = sum(per_version.values())  # version 0, or one deleted meanwhile
    return [*result, ("unresolved", unresolved)] if unresolved else result


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
