"""How a service enqueues a background task: ``enqueue_on_commit("app.tasks.name", *args)``.

An app's ``tasks`` module imports its ``services`` (a task is a thin wrapper that runs a
service); a service never imports ``tasks`` back. It names the task by its dotted path instead,
and the task is looked up and enqueued once the transaction commits (a task never sees rows
its enqueuing transaction has not committed). ``tests/core/test_tasks.py`` resolves every
path the code names, so a renamed task fails there rather than at run time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.tasks import Task
from django.utils.module_loading import import_string


def task_named(path: str) -> Task[..., Any]:
    """The task at ``path`` ("events.tasks.dispatch_event"); ImportError if there is none."""
    task = import_string(path)
    if not isinstance(task, Task):
        raise ImportError(f"{path} is not a task (decorate it with django.tasks.task).")
    return task


def enqueue_on_commit(
    path: str, *args: Any, run_after: datetime | None = None, robust: bool = False
) -> None:
    """Enqueue the task at ``path`` with ``args`` once the current transaction commits (at
    once outside one); ``run_after`` defers it (backends that can wait); ``robust`` logs a
    failure to enqueue instead of raising it (``transaction.on_commit``'s flag)."""

    def enqueue() -> None:
        task = task_named(path)
        (task.using(run_after=run_after) if run_after is not None else task).enqueue(*args)

    transaction.on_commit(enqueue, robust=robust)
