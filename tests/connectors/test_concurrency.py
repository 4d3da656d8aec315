"""Two simultaneous publishes of one number on PostgreSQL: exactly one row, one clear 409."""

from __future__ import annotations

import pytest

from connectors.models import ConnectorVersion
from profiles.services import connector_version_push
from projects.services import Actor, ConflictError
from tests.factories import connector_yaml, make_project
from tests.projects.test_concurrency import run_concurrently

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("builtin", [False, True], ids=["custom", "builtin"])
def test_two_publishes_of_one_number(builtin: bool) -> None:
    project = None if builtin else make_project()

    def publish(description: str):
        return lambda: connector_version_push(
            actor=Actor.system(),
            project=project,
            files=[("c.yaml", connector_yaml(description=description))],
        )

    for _ in range(3):  # several rounds: the race must be lost cleanly every time
        ConnectorVersion.objects.all().delete()
        results = run_concurrently(publish("first"), publish("second"))
        assert ConnectorVersion.objects.count() == 1
        failures = [r for r in results if r is not None]
        assert len(failures) == 1, results
        assert isinstance(failures[0], ConflictError)
        assert failures[0].status == 409
