"""A pin change and an action call walked through the layers (tests/walk.py): data comes back
up only as the return of a call down, never through a lower app calling a higher one (a signal
that returns work, a registered panel, a callback). docs/architecture.md states the figures."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import reverse

from projects.models import AuditEntry
from tests.conftest import Tenancy
from tests.factories import (
    make_api_key,
    make_connection,
    make_project,
    pin_profile,
    publish_version,
)
from tests.provider import Answer, Provider, provider_server
from tests.runtime.helpers import action, connection_on, definition, push, step

from .walk import walk

pytestmark = pytest.mark.django_db
SHOW = bool(os.environ.get("WALK_SHOW"))  # WALK_SHOW=1 pytest -s prints the walks


def shown(name: str, found: object) -> None:
    if SHOW:
        print(f"\n{name}: {found.summary()}")  # type: ignore[attr-defined]
        for label in ("modules", "down", "across", "up"):
            print(f"  {label}: {sorted(getattr(found, label))}")


def test_a_pin_change_calls_only_down(tenancy: Tenancy) -> None:
    project = tenancy.project
    publish_version(project, "1.0.0")
    publish_version(project, "1.1.0")
    profile = pin_profile(project, "main", "1.0.0")
    for n in range(3):
        make_connection(profile, f"user-{n}")
    client = tenancy.client("admin")
    url = reverse("profile_pin", args=[project.slug, profile.public_id])
    found, response = walk("pin_save", lambda: client.post(url, {"pin": "1.1.0"}))
    shown("pin change", found)
    assert response.status_code == 302
    audit = AuditEntry.objects.filter(action="profile.pin_changed").get()
    assert (audit.after or {}).get("connections_moved") == 3  # the count reached the audit
    assert found.up == set(), f"calls up a layer: {sorted(found.up)}"
    assert any(callee.startswith("connections.") for _caller, callee in found.down)


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        yield server


def test_an_action_call_calls_only_down(provider: Provider) -> None:
    """A 1.1.0 published after the connection was made: the call records the move."""
    provider.routes["/people"] = Answer(200, {"people": [{"first": "Ada"}]})
    actions = [
        action(
            "list_people",
            [step("fetch", "request", url="/people", response={"dataKey": "people"})],
            result={"data": "$.steps.fetch.output.data"},
        )
    ]
    project = make_project()
    _, connection = connection_on(project, definition(provider.url, actions), pin="1.x.x")
    push(project, definition(provider.url, actions, version="1.1.0"))
    client = Client(headers={"Authorization": f"Bearer {make_api_key(project)[1]}"})
    url = f"/api/v1/connections/{connection.public_id}/actions/list_people"
    found, response = walk(
        "action_run", lambda: client.post(url, {"inputs": {}}, content_type="application/json")
    )
    shown("action call", found)
    assert response.status_code == 200, response.content
    assert response.json()["version"] == "1.1.0"
    connection.refresh_from_db()
    assert connection.resolved_version is not None
    assert connection.resolved_version.version == "1.1.0"  # recorded
    assert found.up == set(), f"calls up a layer: {sorted(found.up)}"
    assert ("runtime.services", "connections.services.connections") in found.down


def test_no_app_defines_a_signal() -> None:
    """Signals are Django's own (post_migrate, request_started, user_logged_in...): a write
    that must happen in several apps is one service in the highest of them, calling down."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    defining = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.relative_to(root).parts[0] not in {".venv", ".tools", "tests"}
        and "Signal(" in path.read_text()
    ]
    assert defining == []
