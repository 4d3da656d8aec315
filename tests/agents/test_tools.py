"""The agent tools without a server: names, schemas, the governance's precedence (default,
profile, connection; audited), the version a rollout serves each connection, the limit's
input check and the query count of a tools list."""

from __future__ import annotations

from collections.abc import Iterator

import jsonschema
import pytest

from agents import selectors, services, tools
from agents.models import AgentPolicy, AgentToolSwitch
from connections.models import Connection, Status
from profiles.models import ConnectorProfile
from projects.models import AuditEntry, Project
from projects.services import Actor, ServiceError
from rollouts.services import staged
from runtime.models import Channel, RequestLog
from runtime.services import action_run
from tests.factories import make_connection, make_project
from tests.mcp_server.world import people
from tests.provider import Answer, Provider, provider_server
from tests.runtime.helpers import SECRET_KEY, connection_on, push

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        server.routes["/people"] = Answer(200, {"people": [{"id": "p1"}]})
        yield server


def _world(
    provider: Provider, pin: str | None = None
) -> tuple[Project, ConnectorProfile, Connection]:
    project = make_project()
    profile, connection = connection_on(project, people(provider.url), pin=pin)
    return project, profile, connection


def _tools(project: Project, *connections: Connection) -> dict[str, selectors.Tool]:
    fresh = selectors.agent_connections(project, connection_id=connections[0].public_id)
    if len(connections) > 1:
        fresh = selectors.agent_connections(project, owner_id=connections[0].origin_owner_id)
    found = selectors.connection_tools(project, fresh)
    return {t.name: t for toolset in found for t in toolset.tools}


def test_a_long_name_is_shortened_the_same_way_every_time() -> None:
    key, action = "k" * 64, "a" * 100
    name = tools.tool_name(key, action)
    assert len(name) == tools.MAX_NAME and name == tools.tool_name(key, action)
    assert name != tools.tool_name(key, "a" * 99 + "b")  # the hash tells them apart
    assert tools.tool_name("crm", "list") == "crm__list"


def test_the_schema_carries_types_required_descriptions_enums_and_defaults() -> None:
    schema = tools.input_schema(
        {
            "inputs": [
                {"name": "q", "type": "string", "required": True, "description": "Search."},
                {"name": "n", "type": "number", "default": 10},
                {"name": "sort", "type": "string", "enum": ["asc", "desc"]},
                {"name": "at", "type": "datetime_string"},
                {"name": "flag", "type": "boolean"},
                {"name": "body", "type": "object"},
            ]
        }
    )
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["required"] == ["q"]
    assert schema["properties"]["q"] == {"type": "string", "description": "Search."}
    assert schema["properties"]["n"] == {"type": "number", "default": 10}
    assert schema["properties"]["sort"]["enum"] == ["asc", "desc"]
    assert schema["properties"]["at"]["format"] == "date-time"
    valid = jsonschema.Draft202012Validator(schema)
    assert valid.is_valid({"q": "x", "sort": "asc", "flag": True, "body": {}})
    assert not valid.is_valid({"q": "x", "sort": "up"})
    assert not valid.is_valid({"n": 1})


def test_governance_default_then_profile_then_connection_each_audited(
    provider: Provider,
) -> None:
    project, profile, connection = _world(provider)
    other = make_connection(profile, config={"api_key": SECRET_KEY})
    name = "runtime_crm__create_person"
    assert _tools(project, connection)[name].enabled is False  # a write: off by default
    assert _tools(project, connection)["runtime_crm__list_people"].enabled is True
    services.tool_switch_set(
        actor=SYSTEM, project=project, profile=profile, action_id="create_person", enabled=True
    )
    assert _tools(project, connection)[name].enabled is True
    services.tool_switch_set(
        actor=SYSTEM,
        project=project,
        profile=profile,
        action_id="create_person",
        enabled=False,
        connection=connection,
    )
    assert _tools(project, connection)[name].enabled is False  # the connection's own switch
    assert _tools(project, other)[name].enabled is True  # the profile's
    entries = AuditEntry.objects.filter(action__startswith="agent_tool.").order_by("id")
    assert [(e.action, e.target_type) for e in entries] == [
        ("agent_tool.enable", "connectorprofile"),
        ("agent_tool.disable", "connection"),
    ]


def test_bad_governance_input_is_refused_and_changes_nothing(provider: Provider) -> None:
    project, profile, _connection = _world(provider)
    with pytest.raises(ServiceError):
        services.tool_switch_set(
            actor=SYSTEM, project=project, profile=profile, action_id="Drop;", enabled=True
        )
    with pytest.raises(ServiceError):
        services.calls_limit_set(actor=SYSTEM, project=project, profile=profile, calls_per_minute=0)
    elsewhere = make_project()
    with pytest.raises(ServiceError):
        services.calls_limit_set(
            actor=SYSTEM, project=elsewhere, profile=profile, calls_per_minute=5
        )
    assert not AgentToolSwitch.objects.exists() and not AgentPolicy.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="agent_tool.").exists()


def test_a_rollouts_cohort_lists_the_candidates_tools_the_rest_the_stables(
    provider: Provider,
) -> None:
    project, profile, first = _world(provider, pin="1.0.0")
    second = make_connection(profile, first.origin_owner_id, config={"api_key": SECRET_KEY})
    push(project, people(provider.url, "1.1.0"))
    staged.rollout_start(
        actor=SYSTEM,
        profile=profile,
        to_version="1.1.0",
        keep_pin=False,
        target_pin="1.x.x",
        include=[first.public_id],
        knobs=staged.Settings(steps=[1, 100]),
    )
    rows = selectors.agent_connections(project, owner_id=first.origin_owner_id)
    by_connection = {t.connection.pk: t for t in selectors.connection_tools(project, rows)}
    cohort, rest = by_connection[first.pk], by_connection[second.pk]
    assert cohort.version == "1.1.0" and rest.version in ("1.0.0", "1.1.0")
    assert any(t.action_id == "count_people" for t in cohort.tools)
    if rest.version == "1.0.0":  # 1 % of the cohort: the second connection is almost never in
        assert not any(t.action_id == "count_people" for t in rest.tools)
    # The call runs on the version the list said.
    tool = next(t for t in cohort.tools if t.action_id == "list_people")
    result = services.tool_call(
        actor=SYSTEM, project=project, tool=tool, arguments={}, calls_per_minute=None
    )
    assert result.version == "1.1.0"
    assert RequestLog.objects.get(request_id=result.request_id).channel == Channel.MCP


def test_a_disabled_or_reauth_connection_offers_no_tools_and_says_why(
    provider: Provider,
) -> None:
    project, _profile, connection = _world(provider)
    for status in (Status.DISABLED, Status.NEEDS_REAUTH):
        Connection.objects.filter(pk=connection.pk).update(status=status)
        (toolset,) = selectors.connection_tools(
            project, selectors.agent_connections(project, connection_id=connection.public_id)
        )
        assert toolset.tools == [] and toolset.unavailable == status and toolset.reason


def test_a_tools_list_costs_the_same_queries_for_one_or_four_connections(
    provider: Provider,
) -> None:
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    project, profile, first = _world(provider)

    def cost() -> int:
        with CaptureQueriesContext(db) as seen:
            rows = selectors.agent_connections(project, owner_id=first.origin_owner_id)
            selectors.connection_tools(project, rows)
        return len(seen.captured_queries)

    cost()  # warm the resolution and definition caches
    one = cost()
    for _ in range(3):
        make_connection(profile, first.origin_owner_id, config={"api_key": SECRET_KEY})
    cost()
    assert cost() == one


def test_the_profiles_mcp_calls_of_the_last_day(provider: Provider) -> None:
    project, profile, connection = _world(provider)
    action_run(
        actor=SYSTEM, project=project, connection=connection, action_id="list_people", inputs={}
    )
    action_run(
        actor=SYSTEM,
        project=project,
        connection=connection,
        action_id="list_people",
        inputs={},
        channel=Channel.MCP,
    )
    (call,) = selectors.mcp_calls(profile)
    assert call.channel == Channel.MCP and call.connection.name == connection.name
