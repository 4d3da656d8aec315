"""A per-connector generation number in the shared cache, bumped whenever versions change.

Everything cached about a connector's versions (profile resolution) includes the generation
in its key, so one bump invalidates it for every app server sharing the cache (Redis).
"""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction


def generation_key(connector_id: int) -> str:
    return f"connector-versions-gen:{connector_id}"


def versions_generation(connector_id: int) -> int:
    return int(cache.get(generation_key(connector_id), 0))


def _bump(connector_id: int) -> None:
    key = generation_key(connector_id)
    try:
        cache.incr(key)
    except ValueError:  # not in the cache yet (or evicted): start a new sequence
        if not cache.add(key, 1, timeout=None):
            cache.incr(key)


def versions_changed(connector_id: int) -> None:
    """Bump now (this transaction reads its own writes) and again once it commits, so that
    nothing another server cached from pre-commit data survives under the new number."""
    _bump(connector_id)
    transaction.on_commit(lambda: _bump(connector_id))
