"""Fresh answers in every process: generation counters in a store that every process shares,
and a per-process layer in front of the cache, checked once per request.

The store (``generation_store()``) is the cache alias ``generations`` when settings define
one, else the default cache. With Redis (``CACHE_URL``) that is the shared cache; the embedded
default (local-memory cache) gets a file-based store beside the SQLite database
(``core.cache.LockedFileCache``), so a second server, the task worker or a management command
that publishes is seen on the next request of every other process.

Every bump also moves one global *epoch*. A request reads the epoch once, on its first use of
the per-process layer (one Redis GET or one small file read, far cheaper than a query); when it
moved, the layer is emptied. Within the request a warm lookup is then a dict lookup. Outside a
request (the worker, management commands) the layer is bypassed: every read goes to the store.
A process that bumps stops using the layer until its next request (it may be inside a
transaction that could still roll back).

**Leans on** the cache contract of the generation store (``add`` answers whether it stored,
``incr`` raises ValueError on a missing key and is atomic: Redis ``INCR``, or the file lock of
``core.cache.LockedFileCache``) and Django's ``request_started`` / ``request_finished``
signals. **Justified by** bench/resolution.py (rows "resolve, warm: process layer over Redis"
against "resolve, warm cache: Redis", and "per-request epoch check (1 Redis GET)": one GET a
request instead of one per resolution). **Guarded by** tests/core/test_upgrade_hooks.py and
tests/ops/test_freshness.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.signals import request_finished, request_started

EPOCH_KEY = "freshness-epoch"
MISS = object()
MAX_ENTRIES = 20_000  # the per-process layer is emptied when it grows past this


def generation_store() -> BaseCache:
    return caches["generations" if "generations" in settings.CACHES else "default"]


def _seed(store: BaseCache, key: str) -> int:
    # A missing number (never set, evicted, a failover) restarts from the clock in nanoseconds,
    # never from a number an older cached entry may carry; only the first concurrent seeder wins.
    store.add(key, time.time_ns(), timeout=None)
    return int(store.get(key) or time.time_ns())


def read_generations(keys: Iterable[str]) -> dict[str, int]:
    store = generation_store()
    wanted = list(keys)
    found = store.get_many(wanted)
    return {k: int(found.get(k) or _seed(store, k)) for k in wanted}


def _incr(store: BaseCache, key: str) -> None:
    try:
        store.incr(key)  # with Redis down this raises (core.cache): the write rolls back
    except ValueError:  # missing: a fresh clock-based number is newer than anything cached
        _seed(store, key)


def bump(key: str) -> None:
    """Move ``key``'s generation, then the epoch (in that order: a reader that sees the new
    epoch also sees the new generation)."""
    store = generation_store()
    _incr(store, key)
    _incr(store, EPOCH_KEY)
    _state.dirty = True


# --- The per-process layer ----------------------------------------------------------------------


class _State(threading.local):
    active = False  # inside a request
    dirty = False  # this request bumped a generation
    epoch: int | None = None  # the epoch this request read (None: not yet)


_state = _State()
_entries: dict[str, tuple[int, Any]] = {}
_seen = {"epoch": 0}


def request_began(**_: Any) -> None:
    """A unit of work that may use the per-process layer begins (Django's request_started; a
    long-running loop outside Django's request cycle may call it per iteration)."""
    _state.active, _state.dirty, _state.epoch = True, False, None


def request_ended(**_: Any) -> None:
    _state.active, _state.dirty, _state.epoch = False, False, None


request_started.connect(request_began, dispatch_uid="core.freshness.started")
request_finished.connect(request_ended, dispatch_uid="core.freshness.finished")


def _epoch() -> int | None:
    if not _state.active or _state.dirty:
        return None
    if _state.epoch is None:
        epoch = read_generations([EPOCH_KEY])[EPOCH_KEY]
        if epoch != _seen["epoch"]:
            _entries.clear()
            _seen["epoch"] = epoch
        _state.epoch = epoch
    return _state.epoch


def local_get(key: str) -> Any:
    """The value this process holds for ``key`` under the current epoch, else ``MISS``."""
    epoch = _epoch()
    if epoch is None:
        return MISS
    entry = _entries.get(key)
    if entry is None or entry[0] != epoch:
        return MISS
    return entry[1]


def local_set(key: str, value: Any) -> None:
    epoch = _epoch()
    if epoch is None:
        return
    if len(_entries) >= MAX_ENTRIES:
        _entries.clear()
    _entries[key] = (epoch, value)


def local_clear() -> None:
    """Empty this process's layer (tests; a changed cache configuration)."""
    _entries.clear()
    _seen["epoch"] = 0
    _state.epoch = None
