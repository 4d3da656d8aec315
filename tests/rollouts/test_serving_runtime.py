"""Requests through a connection during a staged rollout: the cohort runs the candidate, the
rest the stable version, and each request (and health check) counts for the gate, errors as
docs/api.md "Staged rollouts" defines them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from connections.services.health import connection_check_health
from profiles.models import ConnectorProfile, ServingTally
from profiles.serving import serving_version
from projects.services import Actor
from rollouts import gate as gates
from rollouts.models import Rollout
from rollouts.services import staged
from tests.factories import make_api_key, make_connection
from tests.provider import Answer, Provider, provider_server
from tests.runtime.helpers import SECRET_KEY, connection_on, push
from tests.runtime.test_actions_api import people_definition, post_action

pytestmark = pytest.mark.django_db


def served(profile: ConnectorProfile, connection_id: Any) -> str:
    resolved = serving_version(profile, connection_id).resolved
    assert resolved is not None
    return resolved.version


SYSTEM = Actor.system()


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        server.routes["/people"] = Answer(200, {"people": [{"first": "Ada", "last": "L"}]})
        yield server


def world(provider: Provider) -> dict[str, Any]:
    from tests.factories import make_project

    project = make_project()
    profile, first = connection_on(project, people_definition(provider.url), pin="1.0.0")
    document = people_definition(provider.url, version="1.1.0", name="$.last")
    document["healthCheck"] = {"path": "/health"}
    push(project, document)
    accounts = [first] + [
        make_connection(profile, config={"api_key": SECRET_KEY}) for _ in range(9)
    ]
    client = Client(headers={"Authorization": f"Bearer {make_api_key(project)[1]}"})
    return {"project": project, "profile": profile, "accounts": accounts, "client": client}


def test_the_cohort_runs_the_candidate_and_every_request_counts(provider: Provider) -> None:
    w = world(provider)
    rollout = staged.rollout_start(
        actor=SYSTEM,
        profile=w["profile"],
        to_version="1.1.0",
        keep_pin=False,
        target_pin="1.x.x",
        knobs=staged.Settings(steps=[50, 100]),
    )
    profile = ConnectorProfile.objects.select_related("project").get(pk=w["profile"].pk)
    expected = {a.pk: served(profile, a.public_id) for a in w["accounts"]}
    assert set(expected.values()) == {"1.0.0", "1.1.0"}
    for account in w["accounts"]:
        body = post_action(w["client"], account).json()
        assert body["version"] == expected[account.pk]
        assert body["data"][0]["name"] == ("L" if expected[account.pk] == "1.1.0" else "Ada")
    # The provider fails: errors on both versions; a caller's bad input counts for neither.
    provider.routes["/people"] = Answer(500, {"error": "down"})
    candidate = next(a for a in w["accounts"] if expected[a.pk] == "1.1.0")
    assert post_action(w["client"], candidate).status_code == 502
    assert post_action(w["client"], candidate, "no_such_action").status_code == 404
    stable, cand = gates.figures(Rollout.objects.get(pk=rollout.pk))
    on_candidate = sum(v == "1.1.0" for v in expected.values())
    assert cand.requests == on_candidate + 2 and cand.errors == 1
    assert stable.requests == 10 - on_candidate and stable.errors == 0


def test_a_failed_health_check_on_the_candidate_counts_as_an_error(provider: Provider) -> None:
    w = world(provider)
    provider.routes["/health"] = Answer(503, {"error": "down"})
    staged.rollout_start(
        actor=SYSTEM,
        profile=w["profile"],
        to_version="1.1.0",
        keep_pin=False,
        target_pin="1.x.x",
        knobs=staged.Settings(steps=[100]),
    )
    account = w["accounts"][0]
    result = connection_check_health(actor=SYSTEM, connection=account)
    assert result.status == "unhealthy"  # 1.1.0 has a health check; 1.0.0 has none
    tally = ServingTally.objects.get()
    assert (tally.requests, tally.errors) == (1, 1)
    assert tally.version_pk == Rollout.objects.get().to_version_id
