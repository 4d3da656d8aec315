"""/api/v1/connector_profiles/{id}/rollout and its transitions (docs/api.md "Staged rollouts"), the
profile answer's ``rollout``, the connection answer's ``serving_version``, and who may call
them; POST/PATCH /api/v1/migrations with a deadline, its action and its reminders."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from connections.models import Connection
from events.models import Event
from profiles.models import ConnectorProfile
from profiles.serving import serving_version
from projects.models import Project
from rollouts.models import Rollout
from tests.api.test_auth import assert_error_body
from tests.factories import (
    make_api_key,
    make_connection,
    make_project,
    pin_profile,
    publish_version,
)

pytestmark = pytest.mark.django_db


def client_for(project: Project, scope: str = "full") -> Client:
    return Client(headers={"Authorization": f"Bearer {make_api_key(project, scope=scope)[1]}"})


@pytest.fixture
def world() -> dict[str, Any]:
    project = make_project()
    publish_version(project, "1.2.0")
    publish_version(project, "1.3.0")
    profile = pin_profile(project, "production", "1.2.0")
    connections = [make_connection(profile) for _ in range(12)]
    return {
        "project": project,
        "profile": profile,
        "connections": connections,
        "url": f"/api/v1/connector_profiles/{profile.public_id}/rollout",
        "client": client_for(project),
    }


def post(client: Client, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, body or {}, content_type="application/json")


def test_start_read_and_walk_every_transition(world: dict[str, Any]) -> None:
    client, url = world["client"], world["url"]
    assert_error_body(client.get(url), 404, "no_rollout")
    body = {"to_version": "1.3.0", "target_pin": "1.x.x", "steps": [25, 50, 100]}
    response = post(client, url, body)
    assert response.status_code == 201, response.content
    rollout = response.json()
    assert rollout["state"] == "running" and rollout["percent"] == 25
    assert rollout["from_version"] == {"version": "1.2.0", "builtin": False}
    assert rollout["to_version"] == {"version": "1.3.0", "builtin": False}
    assert rollout["connection_count"] == 12 and 0 <= rollout["cohort_size"] <= 12
    assert rollout["gate"]["verdict"] == "inconclusive"
    assert rollout["settings"]["min_requests"] == 20 and rollout["pause_reason"] is None
    assert client.get(url).json()["id"] == rollout["id"]
    assert_error_body(post(client, url, body), 409, "rollout_active")

    profile = client.get(f"/api/v1/connector_profiles/{world['profile'].public_id}").json()
    assert profile["rollout"] == {
        "id": rollout["id"],
        "state": "running",
        "to_version": "1.3.0",
        "percent": 25,
    }
    assert profile["resolved_version"]["version"] == "1.2.0"  # the stable version

    assert post(client, url + "/advance").json()["percent"] == 50
    assert post(client, url + "/pause").json()["pause_reason"] == "manual"
    assert_error_body(post(client, url + "/advance"), 409, "invalid_transition")
    assert post(client, url + "/resume").json()["state"] == "running"
    promoted = post(client, url + "/promote").json()
    assert promoted["state"] == "promoted" and promoted["ended_at"] is not None
    assert_error_body(post(client, url + "/resume"), 409, "invalid_transition")
    assert client.get(url).json()["state"] == "promoted"  # the latest ended one
    profile = client.get(f"/api/v1/connector_profiles/{world['profile'].public_id}").json()
    assert profile["pinned_version"] == "1.x.x" and profile["rollout"] is None
    assert profile["resolved_version"]["version"] == "1.3.0"
    types = list(Event.objects.filter(type__startswith="rollout.").values_list("type", flat=True))
    assert sorted(types) == sorted(
        [f"rollout.{k}" for k in ("started", "advanced", "paused", "resumed", "promoted")]
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to_version": "1.3.0\x00", "target_pin": "1.x.x"}, "to_version"),
        ({"to_version": "1.3.0", "target_pin": "1.x.x\x00"}, "target_pin"),
        ({"to_version": "1.3.\x070", "target_pin": "1.x.x"}, "to_version"),
    ],
)
def test_a_control_character_is_refused_before_any_query(
    world: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    # Found by Schemathesis (issue 28): a NUL in to_version reached PostgreSQL (DataError, 500).
    response = post(world["client"], world["url"], body)
    error = assert_error_body(response, 400, "invalid")
    assert [f["field"] for f in error["fields"]] == [field]
    assert "control character" in error["fields"][0]["message"]
    assert not Rollout.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to_version": "7.0.0", "target_pin": "1.x.x"}, "to_version"),
        ({"to_version": "1.2.0", "target_pin": "1.x.x"}, "to_version"),
        ({"to_version": "1.3.0"}, "target_pin"),  # the profile's pin 1.2.0 is not 1.3.0
        ({"to_version": "1.3.0", "target_pin": "1.x.x", "steps": [50, 5, 100]}, "steps"),
        ({"to_version": "1.3.0", "target_pin": "1.x.x", "steps": [5, 50]}, "steps"),
        ({"to_version": "1.3.0", "target_pin": "1.x.x", "min_requests": 0}, "min_requests"),
        (
            {"to_version": "1.3.0", "target_pin": "1.x.x", "max_error_rate_increase": 2},
            "max_error_rate_increase",
        ),
        (
            {"to_version": "1.3.0", "target_pin": "1.x.x", "on_regression": "ignore"},
            "on_regression",
        ),
        (
            {"to_version": "1.3.0", "target_pin": "1.x.x", "min_soak_minutes": -1},
            "min_soak_minutes",
        ),
        ({"to_version": "1.3.0", "target_pin": "1.x.x", "include": ["nope"]}, "include[0]"),
    ],
)
def test_bad_bodies_are_400_with_fields_and_change_nothing(
    world: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    response = post(world["client"], world["url"], body)
    error = assert_error_body(response, 400, "invalid")
    assert field in [f["field"] for f in error["fields"]], error
    assert not Rollout.objects.exists()
    assert not Event.objects.filter(type__startswith="rollout.").exists()


def test_connection_answer_says_what_serves_it(world: dict[str, Any]) -> None:
    client = world["client"]
    post(client, world["url"], {"to_version": "1.3.0", "target_pin": "1.x.x", "steps": [50, 100]})
    rollout_id = Rollout.objects.get().public_id
    profile = ConnectorProfile.objects.select_related("project").get(pk=world["profile"].pk)
    seen = set()
    for connection in world["connections"]:
        body = client.get(f"/api/v1/connections/{connection.public_id}").json()
        expected = serving_version(profile, connection.public_id).resolved
        assert expected is not None
        assert body["serving_version"] == {
            "version": expected.version,
            "builtin": False,
            "rollout_id": str(rollout_id),
        }
        seen.add(expected.version)
    assert seen == {"1.2.0", "1.3.0"}  # 12 connections at 50 %: both serve
    listed = client.get("/api/v1/connections?limit=50").json()["items"]
    by_id = {item["id"]: item["serving_version"] for item in listed}
    for connection in world["connections"]:
        single = client.get(f"/api/v1/connections/{connection.public_id}").json()
        assert by_id[str(connection.public_id)] == single["serving_version"]


def test_without_a_rollout_serving_version_is_the_resolution(world: dict[str, Any]) -> None:
    connection: Connection = world["connections"][0]
    body = world["client"].get(f"/api/v1/connections/{connection.public_id}").json()
    assert body["serving_version"] == {"version": "1.2.0", "builtin": False, "rollout_id": None}


def test_read_key_reads_but_never_writes(world: dict[str, Any]) -> None:
    reader = client_for(world["project"], "read")
    url = world["url"]
    assert_error_body(post(reader, url, {"to_version": "1.3.0"}), 403, "forbidden")
    post(world["client"], url, {"to_version": "1.3.0", "target_pin": "1.x.x"})
    assert reader.get(url).status_code == 200
    for verb in ("advance", "pause", "resume", "promote", "rollback"):
        assert_error_body(post(reader, f"{url}/{verb}"), 403, "forbidden")
    assert Rollout.objects.get().step_index == 0


def test_another_project_and_no_key(world: dict[str, Any]) -> None:
    stranger = client_for(make_project())
    url = world["url"]
    assert_error_body(post(stranger, url, {"to_version": "1.3.0"}), 404, "not_found")
    post(world["client"], url, {"to_version": "1.3.0", "target_pin": "1.x.x"})
    assert_error_body(stranger.get(url), 404, "not_found")
    assert_error_body(post(stranger, url + "/rollback"), 404, "not_found")
    assert Client().get(url).status_code == 401
    assert Client().post(url + "/rollback").status_code == 401
    assert world["client"].put(url, {}, content_type="application/json").status_code == 405
    assert Rollout.objects.get().state == "running"


# --- Migrations: deadline, action, reminders ------------------------------------------------------


def test_migration_with_a_deadline_action_and_reminders(world: dict[str, Any]) -> None:
    client, project = world["client"], world["project"]
    new = pin_profile(project, "v2")
    deadline = timezone.now() + timedelta(days=20)
    body = {
        "from_profile_id": str(world["profile"].public_id),
        "to_profile_id": str(new.public_id),
        "deadline": deadline.isoformat(),
        "deadline_action": "disable",
        "reminder_days": [1, 14, 7],
    }
    response = client.post("/api/v1/migrations", body, content_type="application/json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["deadline_action"] == "disable" and created["reminder_days"] == [14, 7, 1]
    assert created["reminders"] == [] and created["pending"] == 12
    again = client.post("/api/v1/migrations", body, content_type="application/json")
    assert again.status_code == 409
    url = f"/api/v1/migrations/{created['id']}"
    patched = client.patch(url, {"reminder_days": [3]}, content_type="application/json")
    assert patched.status_code == 200 and patched.json()["reminder_days"] == [3]
    assert patched.json()["deadline_action"] == "disable"  # not given: unchanged
    past = client.patch(
        url,
        {"deadline": (timezone.now() - timedelta(days=1)).isoformat()},
        content_type="application/json",
    )
    assert "deadline" in [f["field"] for f in assert_error_body(past, 400, "invalid")["fields"]]
    listed = client.get("/api/v1/migrations").json()
    assert listed[0]["reminder_days"] == [3] and listed[0]["reminders"] == []


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"deadline_action": "disable"}, "deadline"),  # no deadline
        ({"reminder_days": [7]}, "deadline"),
        ({"deadline": "2999-01-01T00:00:00Z", "reminder_days": [0]}, "reminder_days"),
        ({"deadline": "2999-01-01T00:00:00Z", "reminder_days": [7, 7]}, "reminder_days"),
        ({"deadline": "2999-01-01T00:00:00Z", "deadline_action": "delete"}, "deadline_action"),
    ],
)
def test_bad_migration_schedules_are_400(
    world: dict[str, Any], extra: dict[str, Any], field: str
) -> None:
    new = pin_profile(world["project"], "v2")
    body = {
        "from_profile_id": str(world["profile"].public_id),
        "to_profile_id": str(new.public_id),
        **extra,
    }
    response = world["client"].post("/api/v1/migrations", body, content_type="application/json")
    error = assert_error_body(response, 400, "invalid")
    assert field in [f["field"] for f in error["fields"]]
