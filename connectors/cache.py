"""A per-connector generation number in the shared cache, bumped whenever versions change.

Everything cached about a connector's versions (profile resolution) includes the generation
in its key, so one bump invalidates it for every app server sharing the cache (Redis).
A generation that is missing (never set, evicted, a cache failover) restarts from the clock
in nanoseconds, never from a number an older cached entry may carry.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from django.core.cache import cache
from django.db import transaction


def generation_key(connector_id: int) -> str:
    return f"connector-versions-gen:{connector_id}"


def _seed(key: str) -> int:
    cache.add(key, time.time_ns(), timeout=None)  # only the first of concurrent seeders wins
    return int(cache.get(key) or time.time_ns())


def versions_generations(connector_ids: Iterable[int]) -> dict[int, int]:
    ids = list(connector_ids)
    found = cache.get_many([generation_key(c) for c in ids])
    return {c: int(found.get(generation_key(c)) or _seed(generation_key(c))) for c in ids}


def versions_generation(connector_id: int) -> int:
    return versions_generations([connector_id])[connector_id]


def _bump(connector_id: int) -> None:
    key = generation_key(connector_id)
    try:
        cache.incr(key)
    except ValueError:  # missing: a fresh clock-based number is newer than anything cached
        _seed(key)


def versions_changed(connector_id: int) -> None:
    """Bump now (this transaction reads its own writes) and again once it commits, so that
    nothing another server cached from pre-commit data survives under the new number."""
    _bump(connector_id)  # with the cache down this raises (core.cache): the write rolls back
    transaction.on_commit(lambda: _bump(connector_id), robust=True)
