"""Evaluate the gate of every running rollout now (what the scheduler does each minute)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from rollouts.services.staged import rollouts_evaluate


class Command(BaseCommand):
    help = (
        "Evaluate the gate of every running staged rollout now and act on it; one line per "
        "rollout: profile, step, verdict, action."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        for evaluation in rollouts_evaluate():
            self.stdout.write(evaluation.line())
