"""Another app process for the cross-process tests: a Redis cache both share, and a Python
script run under tests.second_process_settings on this test's database that answers one line
per line it is sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from django.core.cache import cache
from django.db import connection
from django.test import override_settings

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def shared_redis_cache(url: str, prefix: str) -> Iterator[dict[str, str]]:
    """The default cache on Redis at ``url`` under a fresh key prefix (skipped without Redis:
    CI=true turns a skip into a failure)."""
    try:
        redis.Redis.from_url(url).ping()
    except redis.RedisError:
        pytest.skip(f"Redis is not reachable at {url}")
    config = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": url,
        "KEY_PREFIX": f"{prefix}-{uuid.uuid4().hex[:8]}",
    }
    with override_settings(CACHES={"default": config}):
        yield config
        cache.clear()


@contextmanager
def second_process(
    script: str, arg: Any, *, cache_config: dict[str, str], env: dict[str, str] | None = None
) -> Iterator[Callable[[str], str]]:
    """Run ``script`` with ``arg``; yields ``ask(line)``, which sends a line and returns the
    process's answer."""
    server = subprocess.Popen(
        [sys.executable, "-c", script, str(arg)],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.second_process_settings",
            "SECOND_PROCESS_DATABASE": json.dumps(dict(connection.settings_dict), default=str),
            "SECOND_PROCESS_CACHE": json.dumps(cache_config),
            **(env or {}),
        },
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    stdin, stdout = server.stdin, server.stdout
    assert stdin is not None and stdout is not None

    def ask(line: str) -> str:
        stdin.write(f"{line}\n")
        stdin.flush()
        return stdout.readline().strip()

    try:
        yield ask
    finally:
        stdin.close()
        server.wait(timeout=30)
