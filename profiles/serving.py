"""Which version serves one connection now: the one function the runtime, health checks, Try
it, the connection page, the API's ``serving_version`` and the adoption figures all call.

Without a staged rollout it is the profile's resolution (``profiles.resolution``), unchanged.
While a rollout runs or is paused (the profile's ``rollout_*`` columns, written by the
rollouts app in the transaction of each transition), a connection is served the rollout's
candidate (``rollout_to``) when it is in the cohort, else the stable version
(``rollout_from``), whatever the pin says and whatever is published meanwhile.

The cohort: on the include list; else not on the exclude list and
``bucket(rollout, connection) < percent × 100``, where ``bucket`` is a stable hash of the two
public ids into 0…9999 (blake2b, the same in every process and release: never Python's
``hash()``, which is salted per process). Raising the percentage only adds connections.

Cost: the profile row comes with the connection (no query finds the rollout). The two
versions' numbers are read through the same layers as the resolution: this request's
per-process layer, the shared cache under the connector's versions generation, then one
query for both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

from django.core.cache import cache

from connectors.cache import versions_generation
from connectors.models import PLATFORM_OWNER, ConnectorVersion
from core import freshness
from projects.models import Project

from .models import ConnectorProfile
from .pins import parse_pin
from .resolution import CACHE_TIMEOUT, Resolved, resolve

BUCKETS = 10_000


class Why(StrEnum):
    """Why a connection is served the version it is."""

    PROFILE = "profile"  # no rollout: the profile's resolution
    INCLUDED = "included"  # on the rollout's include list
    EXCLUDED = "excluded"  # on the rollout's exclude list
    COHORT = "cohort"  # in the rollout's percentage
    OUTSIDE = "outside"  # not (yet) in the rollout's percentage


@dataclass(frozen=True)
class Serving:
    resolved: Resolved | None
    why: Why = Why.PROFILE
    rollout_key: UUID | None = None
    window: int = 0
    percent: int = 0

    @property
    def candidate(self) -> bool:
        """Served the rollout's candidate version."""
        return self.why in (Why.INCLUDED, Why.COHORT)


def bucket(rollout_key: UUID | str, connection_id: UUID | str) -> int:
    """The connection's stable place in 0…9999 for this rollout."""
    text = f"{rollout_key}:{connection_id}".encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big") % BUCKETS


def cohort_why(
    rollout_key: UUID | str,
    percent: int,
    connection_id: UUID | str,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
) -> Why:
    """Include first, exclude never, then the percentage."""
    cid = str(connection_id)
    if cid in include:
        return Why.INCLUDED
    if cid in exclude:
        return Why.EXCLUDED
    return Why.COHORT if bucket(rollout_key, cid) < percent * 100 else Why.OUTSIDE


def in_rollout(profile: ConnectorProfile) -> bool:
    return profile.rollout_key is not None


def stable_version(profile: ConnectorProfile) -> Resolved | None:
    """What the profile serves outside any cohort: a rollout's stable version while one runs,
    else the profile's resolution."""
    if profile.rollout_key is None or profile.rollout_from_id is None:
        return resolve(profile.project, profile.connector_id, parse_pin(profile.pin))
    return versions_resolved(profile.connector_id, [profile.rollout_from_id]).get(
        profile.rollout_from_id
    )


def serving_version(profile: ConnectorProfile, connection_id: UUID | str) -> Serving:
    """The version that serves the connection ``connection_id`` (its public id) of
    ``profile`` now, and why."""
    if profile.rollout_key is None or profile.rollout_from_id is None:
        return Serving(resolve(profile.project, profile.connector_id, parse_pin(profile.pin)))
    why = cohort_why(
        profile.rollout_key,
        profile.rollout_percent,
        connection_id,
        profile.rollout_include,
        profile.rollout_exclude,
    )
    assert profile.rollout_to_id is not None  # a CHECK constraint keeps the three together
    versions = versions_resolved(
        profile.connector_id, [profile.rollout_from_id, profile.rollout_to_id]
    )
    chosen = profile.rollout_to_id if why in (Why.INCLUDED, Why.COHORT) else profile.rollout_from_id
    return Serving(
        versions.get(chosen),
        why,
        profile.rollout_key,
        profile.rollout_window,
        profile.rollout_percent,
    )


# --- Versions by id, through the resolution's layers ------------------------------------------


def _local_key(version_id: int) -> str:
    return f"serving-version:{version_id}"


def _shared_key(version_id: int, generation: int) -> str:
    return f"serving-version:{generation}:{version_id}"


def versions_resolved(connector_id: int, version_ids: list[int]) -> dict[int, Resolved]:
    """The versions (of one connector) as ``Resolved``, warm from this request's layer, else
    the shared cache (one round trip), else one query for all that are missing."""
    found: dict[int, Resolved] = {}
    missing = []
    for pk in dict.fromkeys(version_ids):
        local = freshness.local_get(_local_key(pk))
        if local is freshness.MISS:
            missing.append(pk)
        else:
            found[pk] = local
    if not missing:
        return found
    generation = versions_generation(connector_id)
    keys = {pk: _shared_key(pk, generation) for pk in missing}
    cached = cache.get_many(list(keys.values()))
    remaining = []
    for pk, shared_key in keys.items():
        if shared_key in cached:
            found[pk] = cached[shared_key]
            freshness.local_set(_local_key(pk), cached[shared_key])
        else:
            remaining.append(pk)
    if remaining:
        rows = ConnectorVersion.objects.filter(pk__in=remaining).values_list(
            "pk", "version", "project_id", "project__slug", "version_key"
        )
        fresh = {}
        for pk, version, project_id, slug, key in rows:
            builtin = project_id is None
            resolved = Resolved(
                pk, version, builtin, PLATFORM_OWNER if builtin else slug, bytes(key)
            )
            found[pk] = resolved
            fresh[keys[pk]] = resolved
            freshness.local_set(_local_key(pk), resolved)
        cache.set_many(fresh, CACHE_TIMEOUT)
    return found


# --- What the gate counts ---------------------------------------------------------------------

# A caller's own mistakes say nothing about a version: neither a request nor an error.
NOT_COUNTED = frozenset({"invalid_inputs", "connection_disabled"})
# A version's own failures answered with a 4xx: its expressions over their budget (a mapping
# that can't finish) count against the version like a provider error.
VERSION_FAILURES = frozenset({"needs_reauth", "expression_budget_exceeded"})


def gate_outcome(http_status: int, code: str) -> bool | None:
    """For a request served by a version: None when the gate ignores it, else whether it is
    an error. Errors are the provider's and the version's failures (``provider_error``,
    ``provider_timeout``, a failed mapping: every 5xx, and ``expression_budget_exceeded``) and
    ``needs_reauth``; never a caller's ``invalid_inputs``."""
    if code in NOT_COUNTED:
        return None
    return http_status >= 500 or code in VERSION_FAILURES


# --- Serving for rows read as values (the API's connection lists) ----------------------------

# What ``serving_version`` reads of a profile, beside its project.
SERVING_COLUMNS = (
    "pin",
    "connector_id",
    "rollout_key",
    "rollout_from_id",
    "rollout_to_id",
    "rollout_percent",
    "rollout_window",
    "rollout_include",
    "rollout_exclude",
)


def profile_for_serving(
    project: Project, profile_id: int, values: dict[str, Any]
) -> ConnectorProfile:
    """A profile row rebuilt from ``SERVING_COLUMNS`` read with a connection (no query)."""
    return ConnectorProfile(pk=profile_id, project=project, **values)


def serving_words(serving: Serving, candidate: str) -> str:
    """Why a connection is served what it is, in words (the connection page)."""
    match serving.why:
        case Why.INCLUDED:
            return f"on the include list of the rollout to {candidate}"
        case Why.COHORT:
            return f"in the {serving.percent} % cohort of the rollout to {candidate}"
        case Why.EXCLUDED:
            return f"excluded from the rollout to {candidate}"
        case Why.OUTSIDE:
            return f"not in the {serving.percent} % cohort of the rollout to {candidate} yet"
    return "the profile's resolution"
