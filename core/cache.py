"""The shared cache (Redis), failing soft for reads and hard for invalidations.

With Redis down, a read is a miss (callers fall back to the database, the source of truth) and
storing an entry is skipped, each with a logged warning: logins, sessions (cached_db keeps them
in the database too), read pages and the hosted connect pages keep working. An invalidation
(``incr``: the per-connector generation bump of connectors/cache.py) cannot be skipped, or
every server would serve stale resolutions once Redis is back: it raises CacheUnavailable,
inside the writing transaction, so the write is rolled back and answered with a 503.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)
OUTAGE = (RedisConnectionError, RedisTimeoutError, OSError)


class CacheUnavailable(Exception):
    """The shared cache cannot be reached for a write that must invalidate entries."""

    message = "The shared cache is unavailable; nothing was changed. Please try again shortly."


def _warn(operation: str) -> None:
    logger.warning("Cache unavailable: %s skipped", operation)


class FailSoftRedisCache(RedisCache):
    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        try:
            return super().get(key, default, version)
        except OUTAGE:
            _warn("get")
            return default

    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        try:
            return super().get_many(keys, version)
        except OUTAGE:
            _warn("get_many")
            return {}

    def has_key(self, key: Any, version: int | None = None) -> bool:
        try:
            return super().has_key(key, version)
        except OUTAGE:
            _warn("has_key")
            return False

    def set(self, key: Any, value: Any, timeout: Any = None, version: int | None = None) -> None:
        try:
            super().set(key, value, timeout, version)
        except OUTAGE:
            _warn("set")

    def set_many(self, data: Any, timeout: Any = None, version: int | None = None) -> list[Any]:
        try:
            return super().set_many(data, timeout, version)
        except OUTAGE:
            _warn("set_many")
            return list(data)

    def add(self, key: Any, value: Any, timeout: Any = None, version: int | None = None) -> bool:
        try:
            return super().add(key, value, timeout, version)
        except OUTAGE:
            _warn("add")
            return False

    def delete(self, key: Any, version: int | None = None) -> bool:
        # Short-lived entries (progress figures, sessions' cached copies) expire on their own.
        try:
            return super().delete(key, version)
        except OUTAGE:
            _warn("delete")
            return False

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        try:
            super().delete_many(keys, version)
        except OUTAGE:
            _warn("delete_many")

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        try:
            return super().incr(key, delta, version)
        except OUTAGE as exc:
            raise CacheUnavailable(CacheUnavailable.message) from exc


class LockedFileCache(FileBasedCache):
    """Django's file-based cache with ``incr`` and ``add`` made atomic across processes (an
    exclusive ``flock`` on one lock file): the generation store of the embedded default, shared
    by every process that uses the same SQLite database (core.freshness)."""

    @contextmanager
    def _locked(self) -> Iterator[None]:
        directory: str = self._dir  # type: ignore[attr-defined]
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "lock"), "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        with self._locked():
            return super().incr(key, delta, version)

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> bool:
        with self._locked():
            return super().add(key, value, timeout, version)
