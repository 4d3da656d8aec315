"""The finished task results of django-tasks-db, kept TASK_RESULT_RETENTION_DAYS."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q
from django_tasks_db.models import DBTaskResult

from core.pruning import delete_in_batches


def prune_task_results(before: datetime) -> int:
    finished = DBTaskResult.objects.filter(
        Q(status="SUCCESSFUL") | Q(status="FAILED"), finished_at__lt=before
    )
    return delete_in_batches(finished)
