"""Pruners of old rows, run daily by the scheduler (ops/tasks.py ``prune_old_rows``).

An app registers one in its ``AppConfig.ready()``: a name, a callable that deletes rows older
than a given time and returns how many it deleted, and its retention (a settings name holding
days). The ops app registers the finished task results (django-tasks-db); the runtime app
registers its request log the same way::

    from core import pruning
    pruning.register(
        "request_log", prune_request_log, retention_setting="REQUEST_LOG_RETENTION_DAYS"
    )

A pruner deletes in bounded batches so that a large backlog never holds a long transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone


@dataclass(frozen=True)
class Pruner:
    name: str
    prune: Callable[[datetime], int]
    retention_setting: str


_pruners: dict[str, Pruner] = {}


def register(name: str, prune: Callable[[datetime], int], *, retention_setting: str) -> None:
    _pruners[name] = Pruner(name, prune, retention_setting)


def registered() -> list[Pruner]:
    return list(_pruners.values())


def run_all(now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    deleted = {}
    for pruner in registered():
        days = int(getattr(settings, pruner.retention_setting))
        deleted[pruner.name] = pruner.prune(now - timedelta(days=days))
    return deleted


def delete_in_batches(queryset: QuerySet[Any], batch: int = 5_000) -> int:
    """Delete the rows of ``queryset`` (a QuerySet) ``batch`` primary keys at a time."""

    total = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:batch])
        if not ids:
            return total
        total += queryset.model._default_manager.filter(pk__in=ids).delete()[0]
