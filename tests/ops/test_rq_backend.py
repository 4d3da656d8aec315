"""TASKS_BACKEND=rq: a task enqueued from this process runs in a real RQ worker
(`manage.py rqworker --burst --job-class django_tasks_rq.Job default`) on its own Redis DB."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
import redis
from django.tasks import TaskResultStatus, task_backends
from django.test import override_settings

from ops.tasks import prune_old_rows

from .cluster import ROOT, environment
from .test_scheduler import database_url

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
RQ_URL = os.environ.get("TEST_RQ_REDIS_URL", "redis://127.0.0.1:6379/15")


def test_settings_pick_the_backend() -> None:
    from config.settings import base

    assert base._TASK_BACKENDS["rq"] == "django_tasks_rq.RQBackend"
    assert base.TASKS["default"]["BACKEND"] == "django_tasks_db.DatabaseBackend"


def test_a_task_runs_in_an_rq_worker() -> None:
    client = redis.Redis.from_url(RQ_URL)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"Redis is not reachable at {RQ_URL}")
    rq_settings: dict[str, Any] = {
        "TASKS": {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}},
        "RQ_QUEUES": {"default": {"URL": RQ_URL}},
    }
    with override_settings(**rq_settings):
        task_backends["default"]
        result = prune_old_rows.enqueue()
        assert result.status == TaskResultStatus.READY
        env = environment(database_url(), TASKS_BACKEND="rq", TASKS_REDIS_URL=RQ_URL)
        done = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "rqworker",
                "--burst",
                "--job-class",
                "django_tasks_rq.Job",
                "default",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        result.refresh()
        assert result.status == TaskResultStatus.SUCCESSFUL, done.stderr[-2000:]
        assert result.return_value == {"task_results": 0, "request_log": 0}
