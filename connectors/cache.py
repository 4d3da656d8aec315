"""A per-connector generation number, bumped whenever versions change.

Everything cached about a connector's versions (profile resolution) includes the generation
in its key, so one bump invalidates it for every process. The numbers live in the store every
process shares (core.freshness: the shared cache, or a file-based store beside the embedded
SQLite database); each bump also moves the epoch that empties every process's per-process layer.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from core import freshness


def generation_key(connector_id: int) -> str:
    return f"connector-versions-gen:{connector_id}"


def versions_generations(connector_ids: Iterable[int]) -> dict[int, int]:
    ids = list(connector_ids)
    found = freshness.read_generations(generation_key(c) for c in ids)
    return {c: found[generation_key(c)] for c in ids}


def versions_generation(connector_id: int) -> int:
    return versions_generations([connector_id])[connector_id]


def versions_changed(connector_id: int) -> None:
    """Bump now (this transaction reads its own writes) and again once it commits, so that
    nothing another process cached from pre-commit data survives under the new number."""
    key = generation_key(connector_id)
    freshness.bump(key)  # with the cache down this raises (core.cache): the write rolls back
    transaction.on_commit(lambda: freshness.bump(key), robust=True)
