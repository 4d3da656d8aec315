"""/mcp against live app servers with the SDK's own client: gunicorn (as `make cluster` and
compose serve it) and `manage.py runserver` (development, `make run`), on one SQLite file
with the project's own settings; the connector's API is tests.provider's loopback server.
uvicorn on config/asgi.py answers too (Django's ASGI application). The servers start once
for the module (each start costs seconds); the tests run in order and
share the world (a publish happens last but one)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import mcp_types as types
import pytest
import requests
import yaml

from tests.ops.cluster import app_server, environment, manage
from tests.provider import Answer, Provider, Seen, provider_server
from tests.runtime.helpers import SECRET_KEY

from .live import RoundRobin, mcp_session, runserver, uvicorn
from .world import people

SETUP = """
import json, os
from agents.services import calls_limit_set
from connections.models import Connection, Status
from profiles.services import profile_create
from projects.services import Actor
from tests.factories import make_api_key, make_connection, make_project
from tests.mcp_server.world import people
from tests.runtime.helpers import KEY, SECRET_KEY, push

url = os.environ["PROVIDER_URL"]
system = Actor.system()
a, b = make_project(), make_project()
for project in (a, b):
    push(project, people(url))
main = profile_create(actor=system, project=a, connector_key=KEY, name="main")
limited = profile_create(actor=system, project=a, connector_key=KEY, name="limited")
other = profile_create(actor=system, project=b, connector_key=KEY, name="main")
config = {"api_key": SECRET_KEY}
sandbox = make_connection(main, "user-1", config=config, name="Sandbox account")
production = make_connection(main, "user-1", config=config, name="Production account")
off = make_connection(main, "user-2", config=config, name="Disabled account")
Connection.objects.filter(pk=off.pk).update(status=Status.DISABLED)
capped = make_connection(limited, "user-3", config=config, name="Capped account")
calls_limit_set(actor=system, project=a, profile=limited, calls_per_minute=2)
foreign = make_connection(other, "user-1", config=config, name="Project B account")
print(json.dumps({
    "sandbox": str(sandbox.public_id), "production": str(production.public_id),
    "off": str(off.public_id), "capped": str(capped.public_id),
    "foreign": str(foreign.public_id), "profile": main.pk, "project": a.pk,
    "agent": make_api_key(a, "agent", scope="agent")[1],
    "full": make_api_key(a, "full", scope="full")[1],
    "read": make_api_key(a, "read", scope="read")[1],
    "agent_b": make_api_key(b, "agent b", scope="agent")[1],
}))
"""

ENABLE = """
from agents.services import tool_switch_set
from profiles.models import ConnectorProfile
from projects.services import Actor
profile = ConnectorProfile.objects.select_related("project__organization").get(pk={profile})
tool_switch_set(actor=Actor.system(), project=profile.project, profile=profile,
                action_id="create_person", enabled=True)
"""

PEOPLE = Answer(200, {"people": [{"id": "p1", "name": "Ada"}, {"id": "p2", "name": "Grace"}]})


def _whoami(seen: Seen) -> Answer:
    # A provider that answers the credential it was sent: the result must not show it.
    return Answer(200, {"user": "agent", "key": seen.headers.get("X-Api-Key", "")})


class World:
    def __init__(
        self, ids: dict[str, Any], env: dict[str, str], gunicorn: str, dev: str, asgi: str
    ) -> None:
        self.ids = ids
        self.env = env
        self.gunicorn = gunicorn
        self.dev = dev
        self.asgi = asgi

    def __getitem__(self, name: str) -> Any:
        return self.ids[name]


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        server.routes["/people"] = PEOPLE
        server.routes["/whoami"] = _whoami
        yield server


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, provider: Provider) -> Iterator[World]:
    path: Path = tmp_path_factory.mktemp("mcp") / "db.sqlite3"
    env = environment(
        f"sqlite:///{path}",
        PROVIDER_URL=provider.url,
        FIELD_ENCRYPTION_KEYS="mcU6Q2VxN0d2ZkVYbTNmV2tqR3c5aE1yWjJ4a1B0Q2E=",
    )
    manage(env, "migrate", "--no-input", "-v", "0")
    ids = json.loads(manage(env, "shell", "-c", SETUP).strip().splitlines()[-1])
    with app_server(env) as gunicorn, runserver(env) as dev, uvicorn(env) as asgi:
        yield World(ids, env, gunicorn, dev, asgi)


def run(coro: Any) -> Any:
    """The client's coroutine on an event loop of its own thread: a browser test's Playwright
    (sync API) may hold a running loop in the main thread for the rest of the session."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _list(base: str, key: str, **scope: Any) -> types.ListToolsResult:
    async with mcp_session(base, key, **scope) as session:
        return await session.list_tools()


async def _call(
    base: str, key: str, name: str, arguments: dict[str, Any], **scope: Any
) -> types.CallToolResult:
    async with mcp_session(base, key, **scope) as session:
        return await session.call_tool(name, arguments)


def _requests(world: World, connection: str) -> list[dict[str, Any]]:
    answer = requests.get(
        f"{world.gunicorn}/api/v1/connections/{connection}/requests",
        headers={"Authorization": f"Bearer {world['full']}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


@pytest.mark.parametrize("server", ["gunicorn", "dev", "asgi"])
def test_initialize_and_list_the_read_tools_with_valid_schemas(world: World, server: str) -> None:
    base = getattr(world, server)
    listed = run(_list(base, world["agent"], connection_id=world["sandbox"]))
    tools = {t.name: t for t in listed.tools}
    # Default governance: the read-only actions only.
    assert set(tools) == {"runtime_crm__list_people", "runtime_crm__whoami"}
    for tool in listed.tools:
        jsonschema.Draft202012Validator.check_schema(tool.input_schema)
        assert tool.annotations is not None and tool.annotations.read_only_hint is True
        assert tool.annotations.destructive_hint is False
        assert tool.meta is not None and tool.meta["connectorhub/version"] == "1.0.0"
    schema = tools["runtime_crm__list_people"].input_schema
    assert schema["properties"] == {
        "team": {"type": "string", "description": "A team's name."},
        "limit": {"type": "number"},
        "since": {"type": "string", "format": "date-time"},
    }
    assert schema["additionalProperties"] is False
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"team": "core", "limit": 5})
    assert not validator.is_valid({"limit": "five"})
    assert "Sandbox account" in (tools["runtime_crm__list_people"].description or "")
    (entry,) = listed.meta["connectorhub/connections"]
    assert entry["version"] == "1.0.0" and entry["tools"] == 2 and entry["not_enabled"] == 2


def test_a_read_tool_runs_through_the_runtime_and_the_log_says_mcp(
    world: World, provider: Provider
) -> None:
    result = run(
        _call(
            world.gunicorn,
            world["agent"],
            "runtime_crm__list_people",
            {"team": "core"},
            connection_id=world["sandbox"],
        )
    )
    assert result.is_error is False
    assert result.structured_content["data"] == PEOPLE.body["people"]
    assert result.structured_content["version"] == "1.0.0"
    assert "2 records" in result.content[0].text
    assert provider.calls("/people")[-1].query == {"team": ["core"]}
    logged = _requests(world, world["sandbox"])[0]
    assert logged["request_id"] == result.structured_content["request_id"]
    assert (logged["channel"], logged["action_id"], logged["version"]) == (
        "mcp",
        "list_people",
        "1.0.0",
    )


def test_the_runtimes_input_check_answers_an_error_result(world: World) -> None:
    result = run(
        _call(
            world.gunicorn,
            world["agent"],
            "runtime_crm__list_people",
            {"nope": 1},
            connection_id=world["sandbox"],
        )
    )
    assert result.is_error is True
    error = result.structured_content["error"]
    assert error["code"] == "invalid_inputs" and error["status"] == 400
    assert error["fields"][0]["field"] == "inputs.nope"


def test_a_secret_never_reaches_a_tool_result(world: World, provider: Provider) -> None:
    result = run(
        _call(
            world.gunicorn,
            world["agent"],
            "runtime_crm__whoami",
            {},
            connection_id=world["sandbox"],
        )
    )
    assert result.is_error is False
    assert provider.calls("/whoami")[-1].headers["X-Api-Key"] == SECRET_KEY  # it was sent
    assert result.structured_content["data"]["user"] == "agent"
    assert SECRET_KEY not in result.model_dump_json(by_alias=True)


def test_a_write_tool_is_refused_until_an_admin_enables_it(
    world: World, provider: Provider
) -> None:
    name = "runtime_crm__create_person"
    before = len(provider.calls("/people"))
    refused = run(
        _call(world.gunicorn, world["agent"], name, {"name": "Lin"}, connection_id=world["sandbox"])
    )
    assert refused.is_error is True
    assert refused.structured_content["error"]["code"] == "tool_not_enabled"
    assert len(provider.calls("/people")) == before  # nothing reached the provider

    manage(world.env, "shell", "-c", ENABLE.format(profile=world["profile"]))

    listed = run(_list(world.gunicorn, world["agent"], connection_id=world["sandbox"]))
    created = next(t for t in listed.tools if t.name == name)
    assert created.annotations is not None and created.annotations.read_only_hint is False
    assert created.input_schema["required"] == ["name"]
    done = run(
        _call(world.dev, world["agent"], name, {"name": "Lin"}, connection_id=world["sandbox"])
    )
    assert done.is_error is False, done.structured_content
    seen = provider.calls("/people")[-1]
    assert (seen.method, json.loads(seen.body)) == ("POST", {"name": "Lin"})


def test_an_end_users_connections_side_by_side_and_a_disabled_one_says_why(
    world: World,
) -> None:
    listed = run(_list(world.gunicorn, world["agent"], owner_id="user-1"))
    names = {t.name for t in listed.tools}
    sandbox, production = world["sandbox"], world["production"]
    # Two connections of one connector: each prefix carries its connection's id.
    prefixes = {f"runtime_crm_{uuid.UUID(c).hex[:8]}" for c in (sandbox, production)}
    assert {n.split("__")[0] for n in names} == prefixes
    by_id = {e["connection_id"]: e for e in listed.meta["connectorhub/connections"]}
    assert set(by_id) == {sandbox, production}  # not project B's user-1

    off = run(_list(world.gunicorn, world["agent"], connection_id=world["off"]))
    assert off.tools == []
    (entry,) = off.meta["connectorhub/connections"]
    assert entry["unavailable"] == "disabled" and "disabled" in entry["reason"]
    called = run(
        _call(
            world.gunicorn,
            world["agent"],
            "runtime_crm__list_people",
            {},
            connection_id=world["off"],
        )
    )
    assert called.is_error is True
    assert called.structured_content["error"]["code"] == "disabled"


def test_the_calls_per_minute_limit_answers_a_429_error_with_retry_information(
    world: World,
) -> None:
    async def three() -> list[types.CallToolResult]:
        async with mcp_session(world.gunicorn, world["agent"], connection_id=world["capped"]) as s:
            return [await s.call_tool("runtime_crm__list_people", {}) for _ in range(3)]

    results = run(three())
    assert [r.is_error for r in results[:2]] == [False, False]
    error = results[2].structured_content["error"]
    # Unless the minute turned between the calls (then the third one is a first again).
    assert results[2].is_error is False or (
        error["code"] == "rate_limited"
        and error["status"] == 429
        and 1 <= error["retry_after"] <= 60
    )
    if results[2].is_error is False:
        pytest.skip("the minute's window turned during the test; nothing to assert")


def _post(base: str, key: str, connection_id: str) -> requests.Response:
    return requests.post(
        f"{base}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
        headers={
            "Authorization": f"Bearer {key}",
            "Connection-Id": connection_id,
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2025-11-25",
        },
        timeout=10,
    )


def test_another_projects_connection_is_answered_as_an_unknown_one(world: World) -> None:
    foreign = _post(world.gunicorn, world["agent"], world["foreign"])
    unknown = _post(world.gunicorn, world["agent"], str(uuid.uuid4()))
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json() == unknown.json()
    # Its own project's key does reach it.
    assert _post(world.gunicorn, world["agent_b"], world["foreign"]).status_code == 200
    # The SDK's client fails to initialize (its task group raises what the transport met).
    with pytest.raises(BaseException) as raised:
        run(_list(world.gunicorn, world["agent"], connection_id=world["foreign"]))
    assert "404" in _messages(raised.value) or "No such connection" in _messages(raised.value)


def _messages(error: BaseException) -> str:
    if isinstance(error, BaseExceptionGroup):
        return " ".join(_messages(e) for e in error.exceptions)
    return f"{error!r} {error} {_messages(error.__cause__) if error.__cause__ else ''}"


def test_keys_by_scope(world: World) -> None:
    api = f"{world.gunicorn}/api/v1/connections"
    agent = requests.get(api, headers={"Authorization": f"Bearer {world['agent']}"}, timeout=10)
    assert agent.status_code == 403 and "/mcp" in agent.json()["message"]
    assert _post(world.gunicorn, world["read"], world["sandbox"]).status_code == 403
    assert _post(world.gunicorn, "chk_nope_nope", world["sandbox"]).status_code == 401
    assert _post(world.gunicorn, world["full"], world["sandbox"]).status_code == 200


def test_a_publish_changes_the_next_list_and_the_next_calls_version(
    world: World,
) -> None:
    pushed = requests.post(
        f"{world.gunicorn}/api/v1/connectors/push",
        data=yaml.safe_dump(people(world.env["PROVIDER_URL"], "1.1.0")),
        headers={"Authorization": f"Bearer {world['full']}", "Content-Type": "application/yaml"},
        timeout=30,
    )
    assert pushed.status_code == 201, pushed.text
    for base in (world.dev, world.gunicorn):  # each server sees it on its next request
        listed = run(_list(base, world["agent"], connection_id=world["sandbox"]))
        assert "runtime_crm__count_people" in {t.name for t in listed.tools}
        assert listed.meta["connectorhub/connections"][0]["version"] == "1.1.0"
        result = run(
            _call(
                base, world["agent"], "runtime_crm__list_people", {}, connection_id=world["sandbox"]
            )
        )
        assert result.structured_content["version"] == "1.1.0"


def test_two_app_servers_answer_one_clients_successive_requests(world: World) -> None:
    balancer = RoundRobin([world.gunicorn, world.dev, world.asgi])

    async def session() -> tuple[
        types.ListToolsResult, types.CallToolResult, types.ListToolsResult
    ]:
        async with mcp_session(
            world.gunicorn, world["agent"], connection_id=world["sandbox"], transport=balancer
        ) as s:
            return (
                await s.list_tools(),
                await s.call_tool("runtime_crm__list_people", {}),
                await s.list_tools(),
            )

    first, called, second = run(session())
    assert first.tools and [t.name for t in first.tools] == [t.name for t in second.tools]
    assert called.is_error is False
    # initialize, its notification, list, call, list: five requests over the three servers.
    assert set(balancer.served) == {world.gunicorn, world.dev, world.asgi}
