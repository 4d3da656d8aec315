"""Two app servers sharing Redis: a publish on one is seen at once by the other's cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.core.cache import cache
from django.db import connection
from django.test import override_settings

from connectors.services import connector_version_push
from profiles.services import profile_create
from projects.services import Actor
from tests.factories import connector_yaml, make_project

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")

SECOND_SERVER = """
import sys, django
django.setup()
from profiles.models import ConnectorProfile
from profiles.selectors import resolve_profile
profile = ConnectorProfile.objects.select_related("project").get(pk=int(sys.argv[1]))
for line in sys.stdin:
    print(resolve_profile(profile).version, flush=True)
"""


@pytest.fixture
def redis_cache() -> Iterator[dict[str, str]]:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    config = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
    }
    with override_settings(CACHES={"default": config}):
        yield config
        cache.clear()


def test_publish_is_seen_by_another_process_at_once(redis_cache: dict[str, str]) -> None:
    project = make_project()
    system = Actor.system()
    connector_version_push(
        actor=system, project=None, files=[("c", connector_yaml(version="1.0.0"))]
    )
    profile = profile_create(
        actor=system, project=project, connector_key="acme_crm", name="p", pin="latest"
    )

    database = dict(connection.settings_dict)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.second_process_settings",
        "SECOND_PROCESS_DATABASE": json.dumps(database, default=str),
        "SECOND_PROCESS_CACHE": json.dumps(redis_cache),
    }
    server = subprocess.Popen(
        [sys.executable, "-c", SECOND_SERVER, str(profile.pk)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    stdin, stdout = server.stdin, server.stdout
    assert stdin is not None and stdout is not None

    def ask() -> str:
        stdin.write("resolve\n")
        stdin.flush()
        return stdout.readline().strip()

    try:
        assert ask() == "1.0.0"  # the other server has cached this answer in Redis
        assert ask() == "1.0.0"
        connector_version_push(
            actor=system,
            project=None,
            files=[("c", connector_yaml(version="1.1.0", actions=("list_contacts", "x")))],
        )
        assert ask() == "1.1.0", "no stale answer from the shared cache"
        connector_version_push(
            actor=system, project=project, files=[("c", connector_yaml(version="1.0.5"))]
        )
        assert ask() == "1.0.5", "custom precedence, seen at once"
    finally:
        stdin.close()
        server.wait(timeout=30)
