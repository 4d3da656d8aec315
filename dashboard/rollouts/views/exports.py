"""The pending accounts of a migration with their reconnect links, as CSV (streamed)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_POST

from core.csvexport import Echo, csv_cell
from projects.http import HtmxHttpRequest
from projects.services import Actor
from rollouts import selectors as sel
from rollouts import services as migration_services
from rollouts.models import ProfileMigration

from .common import get_migration_for_user

EXPORT_BATCH = 500
CSV_COLUMNS = (
    "origin_owner_id",
    "name",
    "email",
    "status",
    "connection_id",
    "notices_sent",
    "last_sent_at",
    "reconnect_url",
)


def _export_rows(actor: Actor, migration: ProfileMigration) -> Iterator[str]:
    """Header, then every pending account in batches (keyset by id): memory stays flat.
    Accounts without a valid link get one now (``migration_link``)."""
    writer = csv.writer(Echo())
    yield writer.writerow(CSV_COLUMNS)
    for batch in sel.pending_batches(migration, size=EXPORT_BATCH):
        lines = []
        for row in sel.pending_rows(migration, batch):
            notice, url = row.notice, row.link_url or ""
            if not url and migration.is_open:
                notice, url = migration_services.migration_link(
                    actor=actor, migration=migration, connection=row.connection
                )
            connection = row.connection
            lines.append(
                writer.writerow(
                    [
                        csv_cell(connection.origin_owner_id),
                        csv_cell(connection.name),
                        csv_cell(connection.email),
                        connection.status,
                        connection.public_id,
                        notice.notices_sent if notice else 0,
                        notice.last_sent_at.isoformat() if notice and notice.last_sent_at else "",
                        url,
                    ]
                )
            )
        yield "".join(lines)


@cache_control(no_store=True)
@require_POST
@login_required
def migration_export(
    request: HtmxHttpRequest, project_slug: str, migration_id: UUID
) -> StreamingHttpResponse:
    _access, migration = get_migration_for_user(request, project_slug, migration_id)
    response = StreamingHttpResponse(
        _export_rows(Actor.from_request(request), migration), content_type="text/csv"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="migration-{migration.public_id}-pending.csv"'
    )
    return response
