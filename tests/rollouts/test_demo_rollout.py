"""The staged-rollout demo as a newcomer walks it, on the sandbox provider served by this very
server: ``demo_rollout`` stages Sandbox HR 1.2.0, its cohort answers from 1.2.0 and the rest
from 1.0.0; the failure switch breaks 1.2.0 and the gate pauses the rollout with the two error
rates; a rollback serves 1.0.0 to all; a good 1.3.0 is staged, advanced and promoted."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from connections.models import Connection
from core.outbound import close_session
from projects.models import Project
from rollouts.models import Rollout
from sandbox.provider import set_failing_version
from tests.factories import make_api_key

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _cleanup() -> Iterator[None]:
    yield
    close_session()
    set_failing_version(None)


def run(client: Client, connection: Connection) -> Any:
    return client.post(
        f"/api/v1/connections/{connection.public_id}/actions/list_employees",
        {"inputs": {"page_size": 100}},
        content_type="application/json",
    )


def evaluate() -> str:
    Rollout.objects.filter(state="running").update(
        step_started_at=timezone.now() - timedelta(minutes=2)  # a minute's soak has passed
    )
    out = io.StringIO()
    call_command("rollouts_evaluate", stdout=out)
    return out.getvalue()


def test_the_demo_walk(live_server: Any, settings: Any) -> None:
    settings.SITE_URL = live_server.url
    call_command("seed_demo", stdout=io.StringIO())
    project = Project.objects.get(slug="acme-production")
    client = Client(headers={"Authorization": f"Bearer {make_api_key(project)[1]}"})
    api = client
    out = io.StringIO()
    call_command("demo_rollout", stdout=out)
    assert "1.0.0 → 1.2.0" in out.getvalue()
    rollout = Rollout.objects.get()
    url = f"/api/v1/connector_profiles/{rollout.profile.public_id}/rollout"
    accounts = list(Connection.objects.filter(profile=rollout.profile).order_by("pk"))
    first = accounts[0]  # on the include list: always in the cohort
    for _ in range(5):
        assert run(client, first).json()["version"] == "1.2.0"
    for account in accounts[1:]:
        assert run(client, account).json()["version"] in ("1.0.0", "1.2.0")
    assert "advanced" in evaluate()
    assert api.get(url).json()["percent"] == 50

    set_failing_version("1.2.0")
    for _ in range(5):
        assert run(client, first).status_code == 502
    line = evaluate()
    assert "paused" in line and "1.2.0 fails 100 % vs 0 %" in line
    body = api.get(url).json()
    assert (body["state"], body["pause_reason"]) == ("paused", "regression")
    assert body["gate"]["candidate"]["error_rate"] == 1.0
    rolled = api.post(url + "/rollback").json()
    assert rolled["state"] == "rolled_back"
    set_failing_version(None)
    assert {run(client, a).json()["version"] for a in accounts} == {"1.0.0"}

    call_command("demo_rollout", "--release", "1.3.0", stdout=io.StringIO())
    assert api.get(url).json()["to_version"]["version"] == "1.3.0"
    for _ in range(5):
        assert run(client, first).json()["version"] == "1.3.0"
    assert "advanced" in evaluate()
    api.post(url + "/advance")
    promoted = api.post(url + "/promote").json()
    assert promoted["state"] == "promoted"
    profile = api.get(f"/api/v1/connector_profiles/{rollout.profile.public_id}").json()
    assert profile["pinned_version"] == "1.x.x"
    assert {run(client, a).json()["version"] for a in accounts} == {"1.3.0"}
