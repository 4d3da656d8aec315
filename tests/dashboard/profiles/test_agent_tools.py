"""The profile's Agent tools tab: what agents see (tools, schemas, the client snippet), the
switches and the limit (admins only, audited, bad input refused), the MCP calls of the last
24 h, and a query count that does not grow with the calls shown."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from agents.models import AgentPolicy, AgentToolSwitch
from connections.models import Connection
from profiles.models import ConnectorProfile
from projects.models import AuditEntry
from projects.services import Actor
from runtime.models import Channel
from runtime.services import action_run
from tests.conftest import Tenancy
from tests.mcp_server.world import people
from tests.provider import Answer, Provider, provider_server
from tests.runtime.helpers import connection_on

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        server.routes["/people"] = Answer(200, {"people": [{"id": "p1"}]})
        server.routes["/whoami"] = Answer(200, {"user": "u"})
        yield server


@pytest.fixture
def world(tenancy: Tenancy, provider: Provider) -> tuple[ConnectorProfile, Connection]:
    return connection_on(tenancy.project, people(provider.url))


def _url(tenancy: Tenancy, profile: ConnectorProfile, name: str = "profile_agent_tools") -> str:
    return reverse(name, args=[tenancy.project.slug, profile.public_id])


def _mcp_call(tenancy: Tenancy, connection: Connection) -> None:
    action_run(
        actor=Actor.system(),
        project=tenancy.project,
        connection=connection,
        action_id="list_people",
        inputs={},
        channel=Channel.MCP,
    )


def test_the_tab_shows_tools_schemas_snippet_and_the_mcp_calls(
    tenancy: Tenancy, world: tuple[ConnectorProfile, Connection]
) -> None:
    profile, connection = world
    _mcp_call(tenancy, connection)
    action_run(  # an API call: not on this tab
        actor=Actor.system(),
        project=tenancy.project,
        connection=connection,
        action_id="whoami",
        inputs={},
    )
    page = tenancy.client("viewer").get(_url(tenancy, profile))
    assert page.status_code == 200
    text = page.content.decode()
    assert "runtime_crm__list_people" in text and "runtime_crm__create_person" in text
    assert "&quot;format&quot;: &quot;date-time&quot;" in text  # the generated schema
    assert "http://127.0.0.1:8000/mcp" in text  # SITE_URL's /mcp
    assert "streamable_http_client" in text and "Connection-Id" in text
    calls = page.context["calls"]
    assert [c.action_id for c in calls] == ["list_people"]
    assert 'data-testid="agent-tool-switch"' not in text  # a viewer sees, does not switch
    tools = {t.action_id: t for t in page.context["agent"].tools}
    assert tools["list_people"].enabled and not tools["create_person"].enabled


def test_the_query_count_does_not_grow_with_the_calls(
    tenancy: Tenancy, world: tuple[ConnectorProfile, Connection]
) -> None:
    profile, connection = world
    client = tenancy.client("admin")
    _mcp_call(tenancy, connection)
    client.get(_url(tenancy, profile))  # warm the caches
    with CaptureQueriesContext(db) as one:
        client.get(_url(tenancy, profile))
    for _ in range(4):
        _mcp_call(tenancy, connection)
    with CaptureQueriesContext(db) as five:
        page = client.get(_url(tenancy, profile))
    assert len(page.context["calls"]) == 5
    assert len(five.captured_queries) == len(one.captured_queries)


@pytest.mark.parametrize("who", ["viewer", "member"])
def test_only_an_admin_switches(
    tenancy: Tenancy, world: tuple[ConnectorProfile, Connection], who: str
) -> None:
    profile, _ = world
    answer = tenancy.client(who).post(
        _url(tenancy, profile, "profile_agent_tool_switch"),
        {"action_id": "create_person", "enabled": "on"},
    )
    assert answer.status_code == 403
    assert not AgentToolSwitch.objects.exists()


def test_an_admin_enables_a_write_tool_audited(
    tenancy: Tenancy, world: tuple[ConnectorProfile, Connection]
) -> None:
    profile, _ = world
    client = tenancy.client("admin")
    answer = client.post(
        _url(tenancy, profile, "profile_agent_tool_switch"),
        {"action_id": "create_person", "enabled": "on"},
    )
    assert answer.status_code == 302
    switch = AgentToolSwitch.objects.get()
    assert (switch.action_id, switch.enabled, switch.connection_id) == ("create_person", True, None)
    entry = AuditEntry.objects.get(action="agent_tool.enable")
    assert entry.actor_label == "admin" and entry.after == {
        "action_id": "create_person",
        "enabled": True,
    }
    tools = {t.action_id: t for t in client.get(_url(tenancy, profile)).context["agent"].tools}
    assert tools["create_person"].enabled and tools["create_person"].switched


def test_bad_input_is_a_400_and_changes_nothing(
    tenancy: Tenancy, world: tuple[ConnectorProfile, Connection]
) -> None:
    profile, _ = world
    client = tenancy.client("admin")
    bad_switch = client.post(
        _url(tenancy, profile, "profile_agent_tool_switch"), {"action_id": "Not an id"}
    )
    assert bad_switch.status_code == 400 and "action id" in bad_switch.content.decode()
    bad_limit = client.post(_url(tenancy, profile, "profile_agent_limit"), {"calls_per_minute": 0})
    assert bad_limit.status_code == 400
    assert not AgentToolSwitch.objects.exists() and not AgentPolicy.objects.exists()
    saved = client.post(_url(tenancy, profile, "profile_agent_limit"), {"calls_per_minute": 30})
    assert saved.status_code == 302
    assert AgentPolicy.objects.get(profile=profile).calls_per_minute == 30


def test_the_connections_requests_tab_marks_the_mcp_calls(
    tenancy: Tenancy, world: tuple[ConnectorProfile, Connection]
) -> None:
    _, connection = world
    _mcp_call(tenancy, connection)
    action_run(
        actor=Actor.system(),
        project=tenancy.project,
        connection=connection,
        action_id="list_people",
        inputs={},
    )
    url = reverse("connection_requests", args=[tenancy.project.slug, connection.public_id])
    text = tenancy.client("owner").get(url).content.decode()
    assert text.count('data-testid="request-row"') == 2
    assert text.count('data-testid="mcp-badge"') == 1
