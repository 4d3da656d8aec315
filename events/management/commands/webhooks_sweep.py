"""``manage.py webhooks_sweep``: dispatch events whose enqueue was lost and attempt the
deliveries that are due (the task worker normally does both; run it from a scheduler as a
safety net, or with the immediate task backend)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from events.services import deliveries_sweep


class Command(BaseCommand):
    help = "Dispatch undispatched events and attempt the webhook deliveries that are due."

    def handle(self, *args: Any, **options: Any) -> None:
        events, attempted = deliveries_sweep()
        self.stdout.write(f"{events} event(s) dispatched, {attempted} delivery attempt(s).")
