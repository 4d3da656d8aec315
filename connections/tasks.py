"""Background tasks of connections (Django's tasks framework)."""

from __future__ import annotations

import logging

from django.tasks import task

from projects.services import Actor

from .models import Connection
from .services.health import connection_check_health

logger = logging.getLogger(__name__)


@task()
def check_health_after_connect(connection_id: int) -> str:
    """Check a connection right after its end user connected it (an OAuth connect would
    otherwise stay "Not checked" until someone clicks Check now)."""
    connection = Connection.objects.filter(pk=connection_id).first()
    if connection is None:
        return "gone"
    return str(connection_check_health(actor=Actor.system(), connection=connection).status)


@task()
def run_bulk_action(run_id: int) -> str:
    """Run a "select all N matching" bulk action (connections.services.bulk_runs)."""
    from .services import bulk_runs

    return bulk_runs.bulk_run_execute(run_id=run_id).summary
