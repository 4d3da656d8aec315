"""Background tasks (Django's tasks framework): fan an event out, attempt one delivery.

Each attempt is its own task, so a slow or dead endpoint holds one worker slot for at most
WEBHOOK_TIMEOUT and never delays the deliveries to other endpoints.
"""

from __future__ import annotations

from apscheduler.triggers.interval import IntervalTrigger
from crontask import cron
from django.db import transaction
from django.tasks import task

from . import services


@task()
def dispatch_event(event_id: int) -> int:
    """Turn the event into deliveries and enqueue one attempt task per delivery."""
    ids = services.event_dispatch(event_id)

    def enqueue() -> None:
        for delivery_id in ids:
            attempt_delivery.enqueue(delivery_id)

    transaction.on_commit(enqueue, robust=True)
    return len(ids)


@task()
def attempt_delivery(delivery_id: int) -> str:
    delivery = services.delivery_attempt(delivery_id)
    return delivery.status if delivery is not None else "skipped"


@cron(IntervalTrigger(minutes=5, jitter=30))
@task()
def sweep_deliveries() -> dict[str, int]:
    """The safety net, every five minutes from the scheduler: dispatch events whose enqueue
    was lost and attempt the deliveries that are due (``manage.py webhooks_sweep``)."""
    events, attempted = services.deliveries_sweep()
    return {"events": events, "attempted": attempted}
