"""``python manage.py call_action <connection-id> <actionId> [--input k=v ...]``: run an action
through a connection and print the answer as JSON (for support and scripts). Exits 1 with the
error's code and message when the action fails."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from django.core.management.base import BaseCommand, CommandError, CommandParser

from connections.models import Connection
from projects.services import Actor
from runtime.services import ActionError, action_run


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise CommandError(f"--input takes name=value (not {text!r}).")
    return name, value


class Command(BaseCommand):
    help = "Run an action through a connection and print the result as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("connection_id", help="The connection's id (a UUID).")
        parser.add_argument("action_id")
        parser.add_argument(
            "--input", action="append", default=[], metavar="NAME=VALUE", help="Repeatable."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            public_id = UUID(options["connection_id"])
        except ValueError as exc:
            raise CommandError("No such connection.") from exc
        connection = (
            Connection.objects.select_related("project", "profile", "connector", "resolved_version")
            .filter(public_id=public_id)
            .first()
        )
        if connection is None:
            raise CommandError("No such connection.")
        inputs = dict(_pair(text) for text in options["input"])
        try:
            result = action_run(
                actor=Actor.system(),
                project=connection.project,
                connection=connection,
                action_id=options["action_id"],
                inputs=inputs,
            )
        except ActionError as exc:
            detail = "; ".join(f"{f['field']}: {f['message']}" for f in exc.fields)
            raise CommandError(
                f"{exc.code}: {exc.message}" + (f" ({detail})" if detail else "")
            ) from exc
        answer = {
            "data": result.data,
            "next": result.next,
            "action_id": result.action_id,
            "version": result.version,
            "builtin": result.builtin,
            "provider_status": result.provider_status,
            "duration_ms": result.duration_ms,
            "request_id": str(result.request_id),
        }
        self.stdout.write(json.dumps(answer, indent=2, default=str))
