"""``python manage.py prune_request_log [--older-than-days N]``: delete request-log rows older
than N days (default RUNTIME_REQUEST_LOG_RETENTION_DAYS)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from runtime.services import request_log_prune


class Command(BaseCommand):
    help = "Delete request-log rows older than the retention age."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than-days",
            type=int,
            default=settings.RUNTIME_REQUEST_LOG_RETENTION_DAYS,
            help="Retention age in days (default: RUNTIME_REQUEST_LOG_RETENTION_DAYS).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["older_than_days"]
        if days < 1:
            self.stderr.write("--older-than-days must be at least 1.")
            raise SystemExit(2)
        deleted = request_log_prune(older_than=timedelta(days=days))
        self.stdout.write(f"Deleted {deleted} request-log rows older than {days} days.")
