"""The connection events of docs/api.md ("Webhooks"), recorded in the caller's
transaction. Their data: public ids and non-secret fields only (never config values, tokens
or an email address)."""

from __future__ import annotations

from typing import Any

from events.services import event_record

from ..models import Connection


def connection_data(connection: Connection, **extra: Any) -> dict[str, Any]:
    return {
        "connection_id": str(connection.public_id),
        "profile_id": str(connection.profile.public_id),
        "connector_key": connection.connector.key,
        "origin_owner_id": connection.origin_owner_id,
        "status": connection.status,
        **extra,
    }


def announce(connection: Connection, type: str, **extra: Any) -> None:
    event_record(
        project=connection.project,
        type=f"connection.{type}",
        data=connection_data(connection, **extra),
    )


def announce_status(connection: Connection, previous: str) -> None:
    """``connection.status_changed`` when the status moved."""
    if previous != connection.status:
        announce(connection, "status_changed", previous_status=previous)
