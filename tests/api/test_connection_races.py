"""A DELETE racing a PATCH, an access grant or the organization-level role of the same
connection (issue 28, finding 6): the loser answers 404, never 500, and nothing is half
written. On PostgreSQL with threads (row locks are what the race is about)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from connections.models import Connection, ConnectionGrant
from connections.services.connections import ConnectionGone, connection_rename
from projects.models import AuditEntry
from projects.services import Actor
from tests.factories import make_api_key, make_connection, make_profile, make_project, make_team
from tests.projects.test_concurrency import run_concurrently

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
BASE = "/api/v1/connections"


def test_a_write_on_a_connection_deleted_meanwhile_is_404_and_writes_nothing() -> None:
    # The race, made deterministic: the caller read the connection, then it was deleted.
    connection = make_connection(make_profile(make_project()), "cust-gone")
    Connection.objects.filter(pk=connection.pk).delete()
    audits = AuditEntry.objects.count()
    with pytest.raises(ConnectionGone) as caught:
        connection_rename(actor=Actor.system(), connection=connection, name="late")
    assert caught.value.status == 404
    assert AuditEntry.objects.count() == audits


def _writes(team_id: str) -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {
        "rename": ("patch", "", {"name": "renamed"}),
        "grant": (
            "put",
            "/rbac",
            {"subject_type": "team", "subject_id": team_id, "role": "editor"},
        ),
        "org-role": ("patch", "/organization-role", {"role": "viewer"}),
    }


@pytest.mark.parametrize("write", ["rename", "grant", "org-role"])
def test_delete_racing_a_write_answers_404_never_500(write: str) -> None:
    project = make_project()
    profile = make_profile(project)
    team = make_team(project.organization, "Support")
    raw = make_api_key(project)[1]
    method, suffix, body = _writes(str(team.public_id))[write]
    statuses: list[int] = []

    def call(method: str, url: str, data: Any = None) -> Callable[[], None]:
        def run() -> None:
            client = Client(headers={"Authorization": f"Bearer {raw}"})
            response = getattr(client, method)(url, data=data, content_type="application/json")
            statuses.append(response.status_code)

        return run

    for round_ in range(12):
        connection = make_connection(profile, f"cust-race-{round_}")
        url = f"{BASE}/{connection.public_id}"
        results = run_concurrently(
            call("delete", url), call(method, url + suffix, body), call(method, url + suffix, body)
        )
        assert results == [None, None, None]
        # Deleted whatever the order; no grant is left behind (nothing half-written).
        assert not Connection.objects.filter(pk=connection.pk).exists()
        assert not ConnectionGrant.objects.filter(connection_id=connection.pk).exists()
    assert 500 not in statuses, statuses
    assert set(statuses) <= {200, 204, 404}, statuses
    assert statuses.count(204) == 12
