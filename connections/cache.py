"""A generation number per profile for the connections on it, bumped whenever a connection
comes onto or leaves the profile (created, deleted, moved by re-authentication).

What a higher app caches about a profile's connections (the rollouts app: a migration's
progress figures) stores the generation it counted at and counts afresh once it moved: the
connections app never needs to know who caches what (no signal up, no callback).
"""

from __future__ import annotations

import uuid

from django.core.cache import cache
from django.db import transaction

# Longer than anything cached against it lives; an expired generation reads as None, which no
# figure was stored under after a bump, so it only ever costs a recount.
GENERATION_TTL = 24 * 3600


def profile_generation_key(profile_id: int) -> str:
    return f"profile-connections-gen:{profile_id}"


def _bump(key: str) -> None:
    # A new random value, not an increment: a plain set fails soft with the cache down (the
    # figures cached against it expire within their short TTL), and a value never repeats.
    cache.set(key, uuid.uuid4().hex, GENERATION_TTL)


def profile_connections_changed(profile_id: int) -> None:
    """A connection came onto or left the profile: bump now (this transaction reads its own
    writes) and again once it commits, so that nothing counted from pre-commit data survives."""
    key = profile_generation_key(profile_id)
    _bump(key)
    transaction.on_commit(lambda: _bump(key))
