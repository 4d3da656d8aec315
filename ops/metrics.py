"""Figures computed when /metrics is scraped (not counted as they happen): the task queue
depth of the configured backend (database: READY rows; RQ: the queues' lengths)."""

from __future__ import annotations

import django_rq
from django.db.models import Count
from django.tasks import task_backends
from django_tasks_db.models import DBTaskResult
from prometheus_client import CollectorRegistry, Gauge


def queue_depth() -> dict[str, int]:
    backend = task_backends["default"]
    name = type(backend).__module__
    if name.startswith("django_tasks_db"):
        depth = dict.fromkeys(backend.queues or ["default"], 0)
        rows = DBTaskResult.objects.ready().values("queue_name").annotate(n=Count("pk"))
        for row in rows.order_by():
            depth[row["queue_name"]] = row["n"]
        return depth
    if name.startswith("django_tasks_rq"):
        return {queue: django_rq.get_queue(queue).count for queue in backend.queues}
    return {}


class QueueDepthCollector:
    @staticmethod
    def registry() -> CollectorRegistry:
        registry = CollectorRegistry()
        gauge = Gauge(
            "connector_hub_task_queue_depth",
            "Tasks waiting to run, by queue",
            ["queue"],
            registry=registry,
        )
        for queue, depth in queue_depth().items():
            gauge.labels(queue).set(depth)
        return registry
