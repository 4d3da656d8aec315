"""Two app servers sharing Redis: a publish on one is seen at once by the other's cache."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from profiles.services import connector_version_push, profile_create
from projects.services import Actor
from tests.factories import connector_yaml, make_project
from tests.second_process import second_process, shared_redis_cache

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
    with shared_redis_cache(REDIS_URL, "test") as config:
        yield config


def test_publish_is_seen_by_another_process_at_once(redis_cache: dict[str, str]) -> None:
    project = make_project()
    system = Actor.system()
    connector_version_push(
        actor=system, project=None, files=[("c", connector_yaml(version="1.0.0"))]
    )
    profile = profile_create(
        actor=system, project=project, connector_key="acme_crm", name="p", pin="latest"
    )

    with second_process(SECOND_SERVER, profile.pk, cache_config=redis_cache) as send:

        def ask() -> str:
            return send("resolve")

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
