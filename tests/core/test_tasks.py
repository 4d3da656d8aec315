"""core.tasks: services name their tasks by dotted path (no services ↔ tasks import loop);
every path the code names must be a task, and a task enqueued on commit runs after it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from core.tasks import enqueue_on_commit, task_named

ROOT = Path(__file__).resolve().parents[2]
NAMED = re.compile(r'enqueue_on_commit\(\s*"([\w.]+)"')
APPS = ("connections", "events", "rollouts", "runtime", "profiles", "connectors", "projects")


def named_paths() -> set[str]:
    found = set()
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            found.update(NAMED.findall(path.read_text()))
    return found


def test_every_named_task_exists() -> None:
    paths = named_paths()
    assert {
        "events.tasks.dispatch_event",
        "connections.tasks.run_bulk_action",
        "rollouts.tasks.send_migration_notices",
    } <= paths  # the scan finds the call sites
    for path in sorted(paths):
        task_named(path)  # ImportError names the path that is gone


def test_a_path_that_is_no_task_is_refused() -> None:
    with pytest.raises(ImportError, match="not a task"):
        task_named("core.tasks.enqueue_on_commit")
    with pytest.raises(ImportError):
        task_named("events.tasks.no_such_task")


def test_no_service_imports_its_tasks() -> None:
    """The loops this replaced: services importing tasks that import services."""
    loops = []
    for app in APPS:
        for path in [*(ROOT / app).glob("services.py"), *(ROOT / app).glob("services/*.py")]:
            text = path.read_text()
            if re.search(r"^\s*from \.+ import .*\btasks\b|^\s*from \.+tasks import", text, re.M):
                loops.append(str(path.relative_to(ROOT)))
    assert loops == []


@pytest.mark.django_db
def test_enqueued_once_the_transaction_commits(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from django.tasks import default_task_backend

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        enqueue_on_commit("events.tasks.dispatch_event", 41)
        assert default_task_backend.results == []  # type: ignore[attr-defined]
    assert len(callbacks) == 1
    (queued,) = default_task_backend.results  # type: ignore[attr-defined]
    assert queued.task.name == "dispatch_event" and queued.args == [41]
