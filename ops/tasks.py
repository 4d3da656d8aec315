"""Scheduled housekeeping (django-crontask): every registered pruner (core/pruning.py), daily."""

from __future__ import annotations

from apscheduler.triggers.cron import CronTrigger
from crontask import cron
from django.tasks import task

from core import pruning


@cron(CronTrigger(hour=3, minute=17, jitter=300))
@task()
def prune_old_rows() -> dict[str, int]:
    return pruning.run_all()
