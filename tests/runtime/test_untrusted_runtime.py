"""A definition is untrusted code (issue 28), at run time, through the real endpoints and a
real provider on loopback:

- no secret leaves the runtime: a version stored before publishing refused it that names the
  credentials in its result, mapping or messages answers without them, and a provider that
  echoes a secret has it masked in the API's answer, Try it, ``call_action``, the resources
  endpoints and error messages;
- every expression has a budget: the two expressions of the finding answer 422
  ``expression_budget_exceeded`` (recorded in the request log) and the process serves on.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from connections.models import Connection
from connectors.models import ConnectorVersion
from projects.models import Project
from runtime import services
from runtime.engine import MASK
from runtime.models import RequestLog
from tests.conftest import Tenancy
from tests.factories import make_api_key, make_project
from tests.provider import Answer, Provider, Seen, provider_server

from .helpers import SECRET_KEY, action, connection_on, definition, step

pytestmark = pytest.mark.django_db

SUBDOMAIN = "tenant-visible"
AUTH: dict[str, Any] = {
    "type": "api_key",
    "headerName": "X-Api-Key",
    "configFields": [
        {"key": "api_key", "label": "API key", "type": "password", "secret": True},
        {"key": "subdomain", "label": "Subdomain", "type": "string"},
    ],
}
CONFIG = {"api_key": SECRET_KEY, "subdomain": SUBDOMAIN}


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        server.routes["/people"] = Answer(200, {"people": [{"first": "Ada"}]})
        server.routes["/echo"] = echo
        yield server


def echo(seen: Seen) -> Answer:
    """What a careless (or hostile) provider does: answer with what it was sent."""
    key = seen.headers.get("X-Api-Key", "")
    return Answer(
        200,
        {
            "you_sent": key,
            "note": f"key={key};",
            "query": seen.query,
            "by_key": {key: "as a mapping key"},
            "url_form": "k=" + seen.query.get("raw", [""])[0],
        },
    )


def world(provider: Provider, *actions: dict[str, Any]) -> tuple[Project, Connection, Client]:
    project = make_project()
    _, connection = connection_on(
        project,
        definition(
            provider.url, list(actions), auth=AUTH, resources={"get": actions[0]["actionId"]}
        ),
        config=CONFIG,
    )
    client = Client(headers={"Authorization": f"Bearer {make_api_key(project)[1]}"})
    return project, connection, client


def stored_unchecked(connection: Connection, *actions: dict[str, Any]) -> None:
    """Replace the connection's version's actions, as a version published before publishing
    refused them would hold (nothing checks a stored definition again)."""
    version = ConnectorVersion.objects.get(pk=connection.resolved_version_id or 0)
    document = dict(version.definition)
    document["actions"] = list(actions)
    ConnectorVersion.objects.filter(pk=version.pk).update(definition=document)
    services._definitions.clear()


def run(client: Client, connection: Connection, action_id: str, **inputs: Any) -> Any:
    return client.post(
        f"/api/v1/connections/{connection.public_id}/actions/{action_id}",
        {"inputs": inputs},
        content_type="application/json",
    )


FETCH = step("fetch", "request", url="/people", response={"dataKey": "people"})
ECHO = step(
    "fetch",
    "request",
    url="/echo",
    args=[{"name": "raw", "value": "${credentials.api_key}", "in": "query"}],
)


# --- Finding 1: no secret flows out ------------------------------------------------------------


@pytest.mark.parametrize(
    "leaky",
    [
        action("leak", [FETCH], result={"data": "$.credentials"}),
        action("leak", [FETCH], result={"data": "{{credentials}}"}),
        action("leak", [FETCH], result={"data": {"k": "${credentials.api_key}"}}),
        action(
            "leak",
            [
                FETCH,
                step(
                    "mapped",
                    "map_fields",
                    dataSource="$.steps.fetch.output.data",
                    fields=[
                        {"targetFieldKey": "key", "expression": "{{credentials.api_key}}"},
                        {"targetFieldKey": "sub", "expression": "${credentials.subdomain}"},
                    ],
                ),
            ],
            result={"data": "$.steps.mapped.output.data"},
        ),
        action("leak", [FETCH], result={"data": "$..*"}),
    ],
)
def test_a_stored_definition_naming_the_credentials_answers_without_the_secret(
    provider: Provider, leaky: dict[str, Any]
) -> None:
    _, connection, client = world(provider, action("leak", [FETCH]))
    stored_unchecked(connection, leaky)
    answer = run(client, connection, "leak")
    assert answer.status_code == 200, answer.content
    assert SECRET_KEY not in answer.content.decode()
    assert SECRET_KEY[-4:] not in answer.content.decode()  # not even the mask's usual tail


def test_non_secret_fields_are_still_answered(provider: Provider) -> None:
    _, connection, client = world(provider, action("leak", [FETCH]))
    stored_unchecked(connection, action("leak", [FETCH], result={"data": "$.credentials"}))
    assert run(client, connection, "leak").json()["data"] == {"subdomain": SUBDOMAIN}


def test_a_secret_is_still_sent_where_the_request_is_made(provider: Provider) -> None:
    _, connection, client = world(provider, action("echo", [ECHO]))
    assert run(client, connection, "echo").status_code == 200
    seen = provider.calls("/echo")[0]
    assert seen.headers["X-Api-Key"] == SECRET_KEY
    assert seen.query["raw"] == [SECRET_KEY]


def test_a_provider_echoing_the_secret_is_masked_in_the_api_answer(provider: Provider) -> None:
    _, connection, client = world(provider, action("echo", [ECHO]))
    answer = run(client, connection, "echo")
    assert answer.status_code == 200
    assert SECRET_KEY not in answer.content.decode()
    data = answer.json()["data"]
    assert data["you_sent"] == MASK
    assert data["note"] == f"key={MASK};"
    assert data["by_key"] == {MASK: "as a mapping key"}
    assert data["query"]["raw"] == [MASK]


def test_the_secret_is_masked_in_the_resources_endpoint(provider: Provider) -> None:
    _, connection, client = world(provider, action("echo", [ECHO]))
    answer = client.get(
        f"/api/v1/connections/{connection.public_id}/resources", {"resource_ids": "1"}
    )
    assert answer.status_code == 200
    assert SECRET_KEY not in answer.content.decode()
    assert answer.json()["items"][0]["you_sent"] == MASK


def test_the_secret_is_masked_in_call_action(provider: Provider) -> None:
    _, connection, _ = world(provider, action("echo", [ECHO]))
    out = io.StringIO()
    call_command("call_action", str(connection.public_id), "echo", stdout=out)
    assert SECRET_KEY not in out.getvalue()
    assert json.loads(out.getvalue())["data"]["you_sent"] == MASK


def test_the_secret_is_masked_in_try_it(tenancy: Tenancy, provider: Provider) -> None:
    _, connection = connection_on(
        tenancy.project,
        definition(provider.url, [action("echo", [ECHO])], auth=AUTH),
        config=CONFIG,
    )
    version = ConnectorVersion.objects.get(pk=connection.resolved_version_id or 0)
    url = reverse(
        "action_try", args=[tenancy.project.slug, version.connector.key, version.pk, "echo"]
    )
    page = tenancy.client("admin").post(
        url, {"connection": str(connection.public_id)}, headers={"HX-Request": "true"}
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert "you_sent" in html  # the result is shown
    assert SECRET_KEY not in html


def test_error_messages_are_masked_too(provider: Provider) -> None:
    provider.routes["/echo"] = lambda seen: Answer(400, {"detail": seen.query["raw"][0]})
    failing = step(
        "fetch",
        "request",
        url="/echo",
        args=[{"name": "raw", "value": "${credentials.api_key}", "in": "query"}],
        customErrors=[
            {"receivedStatus": 400, "targetStatus": 422, "message": "Refused: ${response.detail}"}
        ],
    )
    _, connection, client = world(provider, action("fails", [failing]))
    answer = run(client, connection, "fails")
    assert answer.status_code == 422
    assert answer.json()["message"] == f"Refused: {MASK}"
    out = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("call_action", str(connection.public_id), "fails", stdout=out)
    assert SECRET_KEY not in str(caught.value)


def test_a_stored_custom_error_naming_the_secret_gives_no_secret(provider: Provider) -> None:
    provider.routes["/people"] = Answer(400, {})
    failing = step(
        "fetch",
        "request",
        url="/people",
        customErrors=[
            {
                "receivedStatus": 400,
                "targetStatus": 400,
                "message": "key ${credentials.api_key} on ${credentials.subdomain}",
                "condition": "{{present(credentials.api_key) || true}}",
            }
        ],
    )
    _, connection, client = world(provider, action("fails", [FETCH]))
    stored_unchecked(connection, action("fails", [failing]))
    answer = run(client, connection, "fails")
    assert answer.status_code == 400
    assert answer.json()["message"] == f"key  on {SUBDOMAIN}"


def test_a_header_http_cannot_carry_is_refused_before_sending(provider: Provider) -> None:
    header = step(
        "fetch",
        "request",
        url="/people",
        args=[{"name": "X-Note", "value": "${inputs.note}", "in": "headers"}],
    )
    inputs = [{"name": "note", "type": "string", "in": "headers"}]
    _, connection, client = world(provider, action("note", [header], inputs=inputs))
    for note in ("two\nlines", "outside latin-1: \u0100"):
        answer = run(client, connection, "note", note=note)
        assert answer.status_code == 422
        assert answer.json()["code"] == "refused"
        assert note not in answer.json()["message"]
    assert provider.calls("/people") == []
    assert run(client, connection, "note", note="fine é").status_code == 200


def test_json_escaped_and_url_encoded_echoes_are_masked(provider: Provider) -> None:
    quoted = 'sk"live\\ x/y'
    provider.routes["/raw"] = lambda seen: Answer(
        200, {"raw_body": seen.body, "raw_query": seen.query}
    )
    send = step(
        "fetch",
        "request",
        url="/raw",
        method="post",
        args=[{"name": "key", "value": "${credentials.api_key}", "in": "body"}],
    )
    project = make_project()
    _, connection = connection_on(
        project,
        definition(provider.url, [action("raw", [send])], auth=AUTH),
        config={"api_key": quoted, "subdomain": SUBDOMAIN},
    )
    client = Client(headers={"Authorization": f"Bearer {make_api_key(project)[1]}"})
    answer = run(client, connection, "raw")
    assert answer.status_code == 200
    raw_body = answer.json()["data"]["raw_body"]
    assert json.loads(provider.calls("/raw")[0].body) == {"key": quoted}  # it was sent
    assert quoted not in raw_body and json.dumps(quoted)[1:-1] not in raw_body
    assert MASK in raw_body


# --- Finding 2: every expression has a budget ------------------------------------------------

POWERS = " && ".join(f"9 ^ {6_000_000 + n} > 0" for n in range(8))


def tree(depth: int) -> Any:
    """A 4-ary tree of 21,845 nodes at depth 7."""
    return 0 if depth == 0 else {f"k{i}": tree(depth - 1) for i in range(4)}


def assert_over_budget(answer: Any, connection: Connection, action_id: str, bound: str) -> None:
    assert answer.status_code == 422, answer.content
    body = answer.json()
    assert body["code"] == "expression_budget_exceeded"
    assert bound in body["message"]  # which bound stopped it
    row = RequestLog.objects.get(connection=connection, action_id=action_id)
    assert (row.http_status, row.error_code) == (422, "expression_budget_exceeded")


def test_a_huge_power_in_a_step_condition_is_stopped_and_the_process_serves_on(
    provider: Provider,
) -> None:
    _, connection, client = world(provider, action("people", [FETCH]))
    powers = {**FETCH, "condition": "{{" + POWERS + "}}"}
    stored_unchecked(connection, action("people", [FETCH]), action("powers", [powers]))
    assert_over_budget(run(client, connection, "powers"), connection, "powers", "a power over")
    assert provider.calls("/people") == []  # stopped before the step ran
    assert run(client, connection, "people").status_code == 200


def test_the_power_is_refused_at_publish(provider: Provider) -> None:
    powers = {**FETCH, "condition": "{{" + POWERS + "}}"}
    project = make_project()
    client = Client(headers={"Authorization": f"Bearer {make_api_key(project)[1]}"})
    body = yaml.safe_dump(definition(provider.url, [action("powers", [powers])], auth=AUTH))
    answer = client.post("/api/v1/connectors/push", body, content_type="application/yaml")
    assert answer.status_code == 400
    assert answer.json()["fields"][0]["field"] == "actions[0].steps[0].condition"


def test_a_power_of_an_input_is_stopped_at_run_time(provider: Provider) -> None:
    powers = {**FETCH, "condition": "{{9 ^ inputs.n > 0}}"}
    _, connection, client = world(
        provider,
        action("powers", [powers], inputs=[{"name": "n", "type": "number", "in": "query"}]),
    )
    answer = run(client, connection, "powers", n=6_000_000)
    assert_over_budget(answer, connection, "powers", "a power over 4,096 bits")
    assert run(client, connection, "powers", n=3).status_code == 200


def test_recursive_descent_over_a_large_answer_is_stopped_and_the_process_serves_on(
    provider: Provider,
) -> None:
    provider.routes["/tree"] = Answer(200, tree(7))
    fetch = step("fetch", "request", url="/tree")
    _, connection, client = world(
        provider,
        action("descent", [fetch], result={"data": "$..*..*..*"}),
        action("people", [FETCH]),
    )
    answer = run(client, connection, "descent")
    assert answer.status_code == 422
    assert "went over their budget (more than" in answer.json()["message"]
    assert_over_budget(answer, connection, "descent", "more than")
    assert run(client, connection, "people").status_code == 200


@pytest.mark.parametrize(
    ("expression", "bound"),
    [
        ('{{"ab" * 100000000}}', "a value over 1,000,000 characters"),
        ("$.inputs.s * 100000000", "a value over 1,000,000 characters"),
        ("{{inputs.s + inputs.s + inputs.s}}", None),  # small: fine
        ('{{"%0999999999d" % 1}}', None),  # % is arithmetic only: no value, no huge string
    ],
)
def test_strings_are_bounded(provider: Provider, expression: str, bound: str | None) -> None:
    inputs = [{"name": "s", "type": "string", "in": "query"}]
    _, connection, client = world(
        provider, action("strings", [FETCH], inputs=inputs, result={"data": expression})
    )
    answer = run(client, connection, "strings", s="xy")
    if bound is None:
        assert answer.status_code == 200
        assert len(json.dumps(answer.json()["data"])) < 100
    else:
        assert_over_budget(answer, connection, "strings", bound)


def test_a_cpu_budget_stops_what_the_step_count_allows(provider: Provider, settings: Any) -> None:
    settings.RUNTIME_EXPRESSION_CPU_MS = 1
    provider.routes["/tree"] = Answer(200, tree(6))
    fetch = step("fetch", "request", url="/tree")
    _, connection, client = world(provider, action("descent", [fetch], result={"data": "$..*..*"}))
    assert_over_budget(run(client, connection, "descent"), connection, "descent", "ms of CPU time")


def test_a_step_budget_is_the_same_on_every_machine(provider: Provider, settings: Any) -> None:
    settings.RUNTIME_EXPRESSION_MAX_STEPS = 1000
    provider.routes["/tree"] = Answer(200, tree(6))
    fetch = step("fetch", "request", url="/tree")
    _, connection, client = world(provider, action("descent", [fetch], result={"data": "$..*"}))
    answer = run(client, connection, "descent")
    assert_over_budget(answer, connection, "descent", "more than 1,000 evaluation steps")
