"""Another app server sharing PostgreSQL and Redis: the version that serves its next request
changes at once after a publish, a forced overwrite and a pin change made here."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from connections.services.pins import profile_set_pin
from projects.models import Project
from projects.services import Actor
from tests.factories import make_project
from tests.provider import Answer, Provider, provider_server
from tests.second_process import second_process, shared_redis_cache

from .helpers import connection_on, push
from .test_actions_api import people_definition

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
# This worktree's Redis database (the suite's own shared-cache tests use another).
REDIS_URL = os.environ.get("TEST_RUNTIME_REDIS_URL", "redis://127.0.0.1:6379/3")

SECOND_SERVER = """
import sys, django
django.setup()
from connections.models import Connection
from projects.services import Actor
from runtime.services import action_run
for line in sys.stdin:
    row = Connection.objects.select_related("project", "profile").get(pk=int(sys.argv[1]))
    result = action_run(actor=Actor.system(), project=row.project, connection=row,
                        action_id="list_people", inputs={})
    print(result.version, result.data[0]["name"], flush=True)
"""


@pytest.fixture
def redis_cache() -> Iterator[dict[str, str]]:
    with shared_redis_cache(REDIS_URL, "test-runtime") as config:
        yield config


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        server.routes["/people"] = Answer(200, {"people": [{"first": "Ada", "last": "Lovelace"}]})
        yield server


def test_another_process_follows_publish_overwrite_and_pin(
    redis_cache: dict[str, str], provider: Provider
) -> None:
    project = make_project()
    Project.objects.filter(pk=project.pk).update(immutable_versioning=False)
    project.refresh_from_db()
    profile, account = connection_on(project, people_definition(provider.url), pin="1.x.x")
    keys = {"FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS)}
    with second_process(SECOND_SERVER, account.pk, cache_config=redis_cache, env=keys) as send:

        def ask() -> str:
            return send("go")

        assert ask() == "1.0.0 Ada"
        push(project, people_definition(provider.url, version="1.1.0", name="$.last"))
        assert ask() == "1.1.0 Lovelace"
        push(
            project,
            people_definition(provider.url, version="1.1.0", name="{{$.first + '!'}}"),
            force=True,
        )
        assert ask() == "1.1.0 Ada!"
        profile_set_pin(actor=Actor.system(), profile=profile, pin="1.0.0")
        assert ask() == "1.0.0 Ada"


def test_another_process_follows_a_rollout_start_advance_rollback_and_promotion(
    redis_cache: dict[str, str], provider: Provider
) -> None:
    from rollouts.services import staged

    project = make_project()
    profile, account = connection_on(project, people_definition(provider.url), pin="1.0.0")
    push(project, people_definition(provider.url, version="1.1.0", name="$.last"))
    keys = {"FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS)}
    system = Actor.system()
    with second_process(SECOND_SERVER, account.pk, cache_config=redis_cache, env=keys) as send:

        def ask() -> str:
            return send("go")

        assert ask() == "1.0.0 Ada"
        # A 1 % first step with the account excluded: not in the cohort until it is lifted.
        rollout = staged.rollout_start(
            actor=system,
            profile=profile,
            to_version="1.1.0",
            keep_pin=False,
            target_pin="1.x.x",
            knobs=staged.Settings(steps=[1, 100]),
            exclude=[account.public_id],
        )
        assert ask() == "1.0.0 Ada"
        staged.rollout_rollback(actor=system, rollout=rollout)
        assert ask() == "1.0.0 Ada"
        profile.refresh_from_db()
        rollout = staged.rollout_start(
            actor=system,
            profile=profile,
            to_version="1.1.0",
            keep_pin=False,
            target_pin="1.x.x",
            knobs=staged.Settings(steps=[1, 100]),
        )
        first = ask()
        staged.rollout_advance(actor=system, rollout=rollout)  # 100 %: everyone
        assert ask() == "1.1.0 Lovelace"
        staged.rollout_rollback(actor=system, rollout=rollout)
        assert ask() == "1.0.0 Ada"
        profile.refresh_from_db()
        rollout = staged.rollout_start(
            actor=system,
            profile=profile,
            to_version="1.1.0",
            keep_pin=False,
            target_pin="1.x.x",
            knobs=staged.Settings(steps=[100]),
        )
        assert ask() == "1.1.0 Lovelace"
        staged.rollout_promote(actor=system, rollout=rollout)
        assert ask() == "1.1.0 Lovelace"
    assert first in ("1.0.0 Ada", "1.1.0 Lovelace")
