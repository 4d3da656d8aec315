"""The scheduler (django-crontask) and the task worker as real processes: a running rollout
whose candidate passes its gate advances by itself, one whose candidate regresses rolls back
by itself, without anyone running a command."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from profiles.models import ConnectorProfile
from profiles.services import serving_count
from projects.services import Actor
from rollouts.models import Rollout, RolloutState
from rollouts.services import staged
from tests.factories import make_project, pin_profile, publish_version
from tests.ops.cluster import background, environment
from tests.ops.test_scheduler import database_url

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def rollout_with_tally(name: str, errors: int, **knobs: object) -> Rollout:
    project = make_project()
    publish_version(project, "1.2.0")
    publish_version(project, "1.3.0")
    profile = pin_profile(project, name, "1.2.0")
    rollout = staged.rollout_start(
        actor=Actor.system(),
        profile=profile,
        to_version="1.3.0",
        keep_pin=False,
        target_pin="1.x.x",
        knobs=staged.Settings(steps=[5, 50, 100], min_requests=10, **knobs),  # type: ignore[arg-type]
    )
    Rollout.objects.filter(pk=rollout.pk).update(
        step_started_at=timezone.now() - timedelta(minutes=30)
    )
    profile = ConnectorProfile.objects.get(pk=profile.pk)
    for i in range(10):
        serving_count(profile=profile, version_id=rollout.to_version_id, error=i < errors)
        serving_count(profile=profile, version_id=rollout.from_version_id, error=False)
    return rollout


def test_the_scheduler_advances_a_passing_rollout_and_rolls_back_a_failing_one() -> None:
    passing = rollout_with_tally("passing", 0)
    failing = rollout_with_tally("failing", 5, on_regression="rollback")
    env = environment(
        database_url(),
        FIELD_ENCRYPTION_KEYS=",".join(django_settings.FIELD_ENCRYPTION_KEYS),
        SCHEDULE_ROLLOUTS_SECONDS="1",
        SCHEDULE_TOKEN_REFRESH_SECONDS="3600",
        SCHEDULE_HEALTH_CHECK_SECONDS="3600",
        SCHEDULE_MIGRATION_DEADLINES_SECONDS="3600",
    )
    with (
        background(env, "db_worker", "--no-startup-delay", "--interval", "0.2") as worker,
        background(env, "crontask", "--no-heartbeat") as scheduler,
    ):
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert worker.poll() is None and scheduler.poll() is None
            done = Rollout.objects.filter(pk=passing.pk, step_index=1).exists() and (
                Rollout.objects.filter(pk=failing.pk, state=RolloutState.ROLLED_BACK).exists()
            )
            if done:
                break
            time.sleep(0.5)
    passing.refresh_from_db()
    failing.refresh_from_db()
    assert passing.step_index >= 1 and passing.state == RolloutState.RUNNING
    assert (failing.state, failing.pause_reason) == (RolloutState.ROLLED_BACK, "regression")
    assert ConnectorProfile.objects.get(pk=failing.profile_id).rollout_key is None
