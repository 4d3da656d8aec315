"""An action's outbound calls end at a wall-clock deadline (RUNTIME_REQUEST_TIMEOUT per
request, RUNTIME_ACTION_TIMEOUT for all of them), against a real loopback provider that
drips one byte a second, which no per-read timeout ever stops; and an action never calls a
private address in disguise."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from projects.services import Actor
from runtime.models import RequestLog
from runtime.services import ActionError, action_run
from tests.factories import make_project
from tests.provider import Answer, Provider, Seen, provider_server

from .helpers import action, connection_on, definition, step

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        yield server


def _run_expecting_504(provider: Provider, document: dict[str, object]) -> float:
    project = make_project()
    _, connection = connection_on(project, document)
    started = time.monotonic()
    with pytest.raises(ActionError) as caught:
        action_run(
            actor=Actor.system(), project=project, connection=connection, action_id="go", inputs={}
        )
    elapsed = time.monotonic() - started
    assert (caught.value.status, caught.value.code) == (504, "provider_timeout")
    row = RequestLog.objects.get(connection=connection)
    assert (row.http_status, row.error_code) == (504, "provider_timeout")
    return elapsed


@pytest.mark.parametrize("part", ["headers", "body"])
@override_settings(RUNTIME_REQUEST_TIMEOUT=2)
def test_a_dripping_provider_is_a_504_at_the_request_deadline(
    provider: Provider, part: str
) -> None:
    provider.routes["/things"] = Answer(200, {"pad": "x" * 50}, drip=part)
    document = definition(provider.url, [action("go", [step("fetch", "request", url="/things")])])
    assert _run_expecting_504(provider, document) < 2 + 1


def _endless_pages(seen: Seen) -> Answer:
    token = int((seen.query.get("page_token") or ["0"])[0])
    return Answer(200, {"rows": [token], "next": str(token + 1)}, delay=0.8)


@override_settings(RUNTIME_REQUEST_TIMEOUT=10, RUNTIME_ACTION_TIMEOUT=2)
def test_all_the_requests_of_an_action_share_one_deadline(provider: Provider) -> None:
    """Each page answers well within the request deadline; the action's deadline stops the
    pages together."""
    provider.routes["/rows"] = _endless_pages
    parameters = {
        "url": "/rows",
        "response": {"dataKey": "rows", "nextKey": "next"},
        "iterator": {"key": "page_token", "in": "query"},
        "maxPages": 20,
    }
    document = definition(
        provider.url, [action("go", [step("fetch", "paginated_request", **parameters)])]
    )
    assert _run_expecting_504(provider, document) < 2 + 1
    assert 2 <= len(provider.calls("/rows")) <= 3


@pytest.mark.parametrize(
    "base_url",
    ["https://[::127.0.0.1]:8042", "https://[64:ff9b::7f00:1]:8042", "https://224.0.0.1"],
)
def test_an_action_to_a_hidden_private_address_is_refused(settings: Any, base_url: str) -> None:
    settings.CONNECTION_ALLOW_PRIVATE_NETWORK = False
    project = make_project()
    document = definition(base_url, [action("go", [step("fetch", "request", url="/things")])])
    _, connection = connection_on(project, document)
    with pytest.raises(ActionError) as caught:
        action_run(
            actor=Actor.system(), project=project, connection=connection, action_id="go", inputs={}
        )
    assert (caught.value.status, caught.value.code) == (502, "provider_error")
    assert "private or reserved" in caught.value.message
