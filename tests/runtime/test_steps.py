"""The step functions, expressions and auth placement, table-driven, against a real HTTP
server on loopback (tests.provider)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from connections.models import Connection
from projects.models import Project
from projects.services import Actor
from runtime.models import RequestLog
from runtime.services import ActionError, ActionResult, action_run
from tests.factories import make_project
from tests.provider import Answer, Provider, Seen, provider_server

from .helpers import SECRET_KEY, action, connection_on, definition, step

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        yield server


def run(project: Project, connection: Connection, action_id: str, **inputs: Any) -> ActionResult:
    return action_run(
        actor=Actor.system(),
        project=project,
        connection=connection,
        action_id=action_id,
        inputs=inputs,
    )


def one_request(provider: Provider, **parameters: Any) -> dict[str, Any]:
    return action("go", [step("fetch", "request", url="/things", **parameters)])


API_KEY_FIELD = {
    "key": "api_key",
    "label": "Key",
    "type": "password",
    "required": True,
    "secret": True,
}
BASIC_FIELDS = [
    {"key": "username", "label": "User", "type": "string", "required": True},
    {"key": "password", "label": "Password", "type": "password", "required": True, "secret": True},
]


def _basic(seen: Seen) -> str:
    return seen.headers.get("Authorization", "")


@pytest.mark.parametrize(
    ("auth", "config", "check"),
    [
        (
            {"type": "api_key", "headerName": "X-Api-Key", "configFields": [API_KEY_FIELD]},
            {"api_key": SECRET_KEY},
            lambda seen: seen.headers.get("X-Api-Key") == SECRET_KEY,
        ),
        (
            {"type": "api_key", "queryParamName": "key", "configFields": [API_KEY_FIELD]},
            {"api_key": SECRET_KEY},
            lambda seen: seen.query.get("key") == [SECRET_KEY] and "X-Api-Key" not in seen.headers,
        ),
        (
            {"type": "api_key", "configFields": [API_KEY_FIELD]},
            {"api_key": SECRET_KEY},
            lambda seen: seen.headers.get("Authorization") == f"Bearer {SECRET_KEY}",
        ),
        (
            {"type": "basic", "configFields": BASIC_FIELDS},
            {"username": "ada", "password": SECRET_KEY},
            lambda seen: (
                _basic(seen) == "Basic " + base64.b64encode(f"ada:{SECRET_KEY}".encode()).decode()
            ),
        ),
    ],
    ids=["api_key header", "api_key query", "api_key bearer", "basic"],
)
def test_auth_placement(
    provider: Provider, auth: dict[str, Any], config: dict[str, str], check: Any
) -> None:
    provider.routes["/things"] = Answer(200, {"items": [1]})
    project = make_project()
    _, connection = connection_on(
        project, definition(provider.url, [one_request(provider)], auth=auth), config=config
    )
    result = run(project, connection, "go")
    (seen,) = provider.calls("/things")
    assert check(seen), seen.headers
    assert result.data == {"items": [1]}
    assert result.provider_status == 200


def test_path_query_body_interpolation_and_conditional_args(provider: Provider) -> None:
    provider.routes["/contacts/a%2Fb"] = Answer(200, {"contact": {"id": "a/b"}})
    document = definition(
        provider.url,
        [
            action(
                "go",
                [
                    step(
                        "fetch",
                        "request",
                        url="/contacts/${inputs.id}",
                        method="post",
                        args=[
                            {"name": "q", "value": "$.inputs.q", "in": "query"},
                            {
                                "name": "only_if",
                                "value": "x",
                                "in": "query",
                                "condition": "{{present(inputs.flag)}}",
                            },
                            {"name": "X-Trace", "value": "t-${inputs.id}", "in": "headers"},
                            {"name": "count", "value": "$.inputs.n", "in": "body"},
                            {"name": "tag", "value": "{{inputs.q|upper}}", "in": "body"},
                        ],
                        response={"dataKey": "contact"},
                    )
                ],
                inputs=[
                    {"name": "id", "type": "string", "in": "path", "required": True},
                    {"name": "q", "type": "string", "in": "query"},
                    {"name": "flag", "type": "boolean", "in": "query"},
                    {"name": "n", "type": "number", "in": "body"},
                ],
            )
        ],
    )
    project = make_project()
    _, connection = connection_on(project, document)
    result = run(project, connection, "go", id="a/b", q="hello", n="3")
    (seen,) = provider.calls("/contacts/a%2Fb")
    assert seen.method == "POST"
    assert seen.query == {"q": ["hello"]}  # the condition left only_if out
    assert seen.headers["X-Trace"] == "t-a/b"
    assert json.loads(seen.body) == {"count": 3, "tag": "HELLO"}
    assert result.data == {"id": "a/b"}
    run(project, connection, "go", id="a/b", q="x", flag=True)
    assert provider.calls("/contacts/a%2Fb")[1].query["only_if"] == ["x"]


def test_a_dot_dot_path_value_is_refused(provider: Provider) -> None:
    document = definition(
        provider.url,
        [
            action(
                "go",
                [step("fetch", "request", url="/contacts/${inputs.id}")],
                inputs=[{"name": "id", "type": "string", "in": "path", "required": True}],
            )
        ],
    )
    project = make_project()
    _, connection = connection_on(project, document)
    with pytest.raises(ActionError) as caught:
        run(project, connection, "go", id="..")
    assert caught.value.status == 400
    assert provider.seen == []


def _cursor_pages(seen: Seen) -> Answer:
    token = (seen.query.get("page_token") or ["0"])[0]
    n = int(token)
    return Answer(
        200, {"rows": [n * 10 + i for i in range(3)], "next": str(n + 1) if n < 4 else None}
    )


@pytest.mark.parametrize(
    ("max_pages", "pages", "next_cursor"),
    [(None, 5, None), (2, 2, "2")],
    ids=["all pages", "capped by maxPages"],
)
def test_cursor_pagination(
    provider: Provider, max_pages: int | None, pages: int, next_cursor: str | None
) -> None:
    provider.routes["/rows"] = _cursor_pages
    parameters: dict[str, Any] = {
        "url": "/rows",
        "response": {"dataKey": "rows", "nextKey": "next"},
        "iterator": {"key": "page_token", "in": "query"},
    }
    if max_pages:
        parameters["maxPages"] = max_pages
    document = definition(
        provider.url, [action("go", [step("fetch", "paginated_request", **parameters)])]
    )
    project = make_project()
    _, connection = connection_on(project, document)
    result = run(project, connection, "go")
    assert len(provider.calls("/rows")) == pages
    assert result.data == [n * 10 + i for n in range(pages) for i in range(3)]
    assert result.next == next_cursor


@override_settings(RUNTIME_MAX_PAGES=3)
def test_the_platform_page_cap_wins_over_the_definition(provider: Provider) -> None:
    provider.routes["/rows"] = _cursor_pages
    parameters = {
        "url": "/rows",
        "response": {"dataKey": "rows", "nextKey": "next"},
        "iterator": {"key": "page_token", "in": "query"},
        "maxPages": 100,
    }
    document = definition(
        provider.url, [action("go", [step("fetch", "paginated_request", **parameters)])]
    )
    project = make_project()
    _, connection = connection_on(project, document)
    result = run(project, connection, "go")
    assert len(provider.calls("/rows")) == 3
    assert result.next == "3"


def _padded_pages(seen: Seen) -> Answer:
    """Each page about 400 bytes: rows n*10.. and a cursor, up to page 4."""
    n = int((seen.query.get("page_token") or ["0"])[0])
    return Answer(
        200,
        {"rows": [n * 10 + i for i in range(3)], "pad": "x" * 350, "next": str(n + 1)},
    )


@override_settings(RUNTIME_MAX_TOTAL_BYTES=1000, RUNTIME_MAX_RESPONSE_BYTES=100_000)
def test_pages_that_cross_the_total_byte_cap_stop_with_the_cursor_left(
    provider: Provider,
) -> None:
    """docs/connector-definition.md: the step stops at RUNTIME_MAX_TOTAL_BYTES with
    ``output.next`` the cursor left (issue 30: the page that crossed it was a 502 and the
    pages already read were lost)."""
    provider.routes["/rows"] = _padded_pages
    parameters = {
        "url": "/rows",
        "response": {"dataKey": "rows", "nextKey": "next"},
        "iterator": {"key": "page_token", "in": "query"},
    }
    cursor_input = [{"name": "page_token", "type": "string", "in": "query"}]
    document = definition(
        provider.url,
        [action("go", [step("fetch", "paginated_request", **parameters)], inputs=cursor_input)],
    )
    project = make_project()
    _, connection = connection_on(project, document)
    result = run(project, connection, "go")
    # Two pages (~800 bytes) fit; the third would cross 1,000: it is where the caller resumes.
    assert result.data == [0, 1, 2, 10, 11, 12]
    assert result.next == "2"
    again = run(project, connection, "go", page_token=result.next)
    assert again.data == [20, 21, 22, 30, 31, 32] and again.next == "4"


def test_offset_pagination_through_next_key_and_result(provider: Provider) -> None:
    def page(seen: Seen) -> Answer:
        offset = int((seen.query.get("offset") or ["0"])[0])
        rows = list(range(offset, min(offset + 2, 5)))
        return Answer(
            200, {"items": rows, "paging": {"next_offset": offset + 2 if offset + 2 < 5 else None}}
        )

    provider.routes["/items"] = page
    document = definition(
        provider.url,
        [
            action(
                "go",
                [
                    step(
                        "fetch",
                        "request",
                        url="/items",
                        args=[{"name": "offset", "value": "$.inputs.offset", "in": "query"}],
                        response={"dataKey": "items", "nextKey": "paging.next_offset"},
                    )
                ],
                inputs=[{"name": "offset", "type": "number", "in": "query"}],
                result={"data": "$.steps.fetch.output.data", "next": "$.steps.fetch.output.next"},
            )
        ],
    )
    project = make_project()
    _, connection = connection_on(project, document)
    first = run(project, connection, "go")
    assert (first.data, first.next) == ([0, 1], 2)
    last = run(project, connection, "go", offset=4)
    assert (last.data, last.next) == ([4], None)


RECORD = {
    "id": 7,
    "first": "Ada",
    "last": "Lovelace",
    "status": "A",
    "score": "42.5",
    "vip": "yes",
    "tags": ["x", "y"],
    "address": {"city": "London", "zip": 123},
    "salary": "secret-ish",
    "addresses": [{"city": "Paris"}, {"city": "Rome"}],
}


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ({"targetFieldKey": "id", "expression": "$.id", "type": "string"}, {"id": "7"}),
        (
            {
                "targetFieldKey": "name",
                "expression": "{{$.first + ' ' + $.last}}",
                "type": "string",
            },
            {"name": "Ada Lovelace"},
        ),
        (
            {
                "targetFieldKey": "status",
                "expression": "$.status",
                "type": "enum",
                "enumMapper": {
                    "matcher": [
                        {"matchExpression": "I", "value": "inactive"},
                        {"matchExpression": "A", "value": "active"},
                    ]
                },
            },
            {"status": {"value": "active", "source_value": "A"}},
        ),
        (
            {
                "targetFieldKey": "status",
                "expression": "$.status",
                "type": "enum",
                "enumMapper": {
                    "matcher": [{"matchExpression": "{{value == 'Z'}}", "value": "z"}],
                    "default": "other",
                },
            },
            {"status": {"value": "other", "source_value": "A"}},
        ),
        ({"targetFieldKey": "score", "expression": "$.score", "type": "number"}, {"score": 42.5}),
        (
            {"targetFieldKey": "tags", "expression": "$.tags", "type": "string", "array": True},
            {"tags": ["x", "y"]},
        ),
        (
            {
                "targetFieldKey": "address",
                "expression": "$.address",
                "type": "object",
                "properties": [
                    {"targetFieldKey": "city", "expression": "$.city", "type": "string"},
                    {"targetFieldKey": "zip", "expression": "$.zip", "type": "string"},
                ],
            },
            {"address": {"city": "London", "zip": "123"}},
        ),
        (
            {
                "targetFieldKey": "cities",
                "expression": "$.addresses",
                "type": "object",
                "array": True,
                "properties": [{"targetFieldKey": "city", "expression": "$.city"}],
            },
            {"cities": [{"city": "Paris"}, {"city": "Rome"}]},
        ),
        ({"targetFieldKey": "salary", "expression": "$.salary", "hidden": True}, {}),
        (
            {"targetFieldKey": "vip", "expression": "$.vip", "type": "boolean", "custom": True},
            {"custom_fields": {"vip": True}},
        ),
        (
            {"targetFieldKey": "greeting", "expression": "Hi ${inputs.who}", "type": "string"},
            {"greeting": "Hi Bob"},
        ),
    ],
    ids=[
        "jsonpath typed",
        "jexl concatenation",
        "enum",
        "enum default",
        "number",
        "array",
        "nested object",
        "array of objects",
        "hidden",
        "custom",
        "interpolation",
    ],
)
def test_map_fields(provider: Provider, field: dict[str, Any], expected: dict[str, Any]) -> None:
    provider.routes["/people"] = Answer(200, {"people": [RECORD]})
    document = definition(
        provider.url,
        [
            action(
                "go",
                [
                    step("fetch", "request", url="/people", response={"dataKey": "people"}),
                    step(
                        "mapped",
                        "map_fields",
                        dataSource="$.steps.fetch.output.data",
                        fields=[field],
                    ),
                ],
                inputs=[{"name": "who", "type": "string", "in": "query"}],
                result={"data": "$.steps.mapped.output.data"},
            )
        ],
    )
    project = make_project()
    _, connection = connection_on(project, document)
    assert run(project, connection, "go", who="Bob").data == [expected]


def test_typecast_and_group_data(provider: Provider) -> None:
    provider.routes["/a"] = Answer(200, {"rows": [{"n": "1", "ok": "true"}]})
    provider.routes["/b"] = Answer(200, {"rows": [{"n": "2", "ok": "no"}]})
    document = definition(
        provider.url,
        [
            action(
                "go",
                [
                    step("a", "request", url="/a", response={"dataKey": "rows"}),
                    step("b", "request", url="/b", response={"dataKey": "rows"}),
                    step("both", "group_data", stepsDataToGroup=["a", "b"]),
                    step(
                        "typed",
                        "typecast",
                        dataSource="$.steps.both.output.data",
                        fields=[
                            {"targetFieldKey": "n", "type": "number"},
                            {"targetFieldKey": "ok", "type": "boolean"},
                        ],
                    ),
                ],
                result={"data": "$.steps.typed.output.data"},
            ),
            action(
                "one",
                [
                    step("a", "request", url="/a", response={"dataKey": "rows"}),
                    step("b", "request", url="/b", response={"dataKey": "rows"}),
                    step("merged", "group_data", stepsDataToGroup=["a", "b"], isSingleRecord=True),
                ],
            ),
        ],
    )
    project = make_project()
    _, connection = connection_on(project, document)
    assert run(project, connection, "go").data == [{"n": 1, "ok": True}, {"n": 2, "ok": False}]
    assert run(project, connection, "one").data == {"n": "2", "ok": "no"}


@pytest.mark.parametrize(
    ("answer", "status", "code", "message"),
    [
        (Answer(404, {"error": "gone"}), 404, "provider_error", "No thing 12 here (404: gone)."),
        (Answer(500, {"error": "boom"}), 502, "provider_error", "HTTP 500"),
        (Answer(503, {}), 422, "provider_error", "Maintenance"),
        (
            Answer(302, {}, headers={"Location": "http://example.com/"}),
            502,
            "provider_error",
            "redirect",
        ),
        (Answer(401, {}), 409, "needs_reauth", "refused the credentials"),
    ],
    ids=["customErrors 404", "5xx", "customErrors 503 to 422", "redirect not followed", "401"],
)
def test_provider_errors_and_custom_errors(
    provider: Provider, answer: Answer, status: int, code: str, message: str
) -> None:
    provider.routes["/things/12"] = answer
    document = definition(
        provider.url,
        [
            action(
                "go",
                [
                    step(
                        "fetch",
                        "request",
                        url="/things/${inputs.id}",
                        customErrors=[
                            {
                                "receivedStatus": 404,
                                "targetStatus": 404,
                                # The provider's answer is in the message's context
                                # (docs/connector-definition.md, customErrors).
                                "message": "No thing ${inputs.id} here (${status}: "
                                "${response.error}).",
                            },
                            {"receivedStatus": 503, "targetStatus": 422, "message": "Maintenance"},
                        ],
                    )
                ],
                inputs=[{"name": "id", "type": "string", "in": "path", "required": True}],
            )
        ],
    )
    project = make_project()
    _, connection = connection_on(project, document)
    with pytest.raises(ActionError) as caught:
        run(project, connection, "go", id="12")
    assert (caught.value.status, caught.value.code) == (status, code)
    assert message in caught.value.message
    assert caught.value.provider_status == answer.status
    row = RequestLog.objects.get(connection=connection)
    assert (row.status, row.http_status, row.error_code) == ("error", status, code)


@override_settings(CONNECTION_HTTP_TIMEOUT=(1.0, 0.3))
def test_a_slow_provider_is_a_504(provider: Provider) -> None:
    provider.routes["/things"] = Answer(200, {}, delay=1.0)
    project = make_project()
    _, connection = connection_on(project, definition(provider.url, [one_request(provider)]))
    with pytest.raises(ActionError) as caught:
        run(project, connection, "go")
    assert (caught.value.status, caught.value.code) == (504, "provider_timeout")


@override_settings(RUNTIME_MAX_RESPONSE_BYTES=1000)
def test_an_answer_over_the_size_cap_is_refused(provider: Provider) -> None:
    provider.routes["/things"] = Answer(200, {"blob": "x" * 5000})
    project = make_project()
    _, connection = connection_on(project, definition(provider.url, [one_request(provider)]))
    with pytest.raises(ActionError) as caught:
        run(project, connection, "go")
    assert caught.value.status == 502
    assert "larger than 1,000 bytes" in caught.value.message


@pytest.mark.parametrize(
    "base_url",
    [
        "http://127.0.0.1:9/api",
        "https://127.0.0.1/api",
        "https://10.0.0.8/api",
        "https://[::1]/api",
    ],
)
def test_private_destinations_are_refused_outside_local_settings(base_url: str) -> None:
    project = make_project()
    _, connection = connection_on(project, definition(base_url, [one_request(None)]))  # type: ignore[arg-type]
    with (
        override_settings(CONNECTION_ALLOW_PRIVATE_NETWORK=False),
        pytest.raises(ActionError) as caught,
    ):
        run(project, connection, "go")
    assert caught.value.status == 502
    assert "private" in caught.value.message or "https" in caught.value.message


@pytest.mark.parametrize(
    ("inputs", "field", "message"),
    [
        ({}, "inputs.id", "is required"),
        ({"id": "x", "n": "many"}, "inputs.n", "must be a number"),
        ({"id": "x", "flag": "perhaps"}, "inputs.flag", "true or false"),
        ({"id": "x", "when": "yesterday"}, "inputs.when", "ISO 8601"),
        ({"id": "x\x00"}, "inputs.id", "control characters"),
        ({"id": "x", "other": 1}, "inputs.other", "not an input"),
    ],
)
def test_invalid_inputs_name_the_input_and_send_nothing(
    provider: Provider, inputs: dict[str, Any], field: str, message: str
) -> None:
    document = definition(
        provider.url,
        [
            action(
                "go",
                [step("fetch", "request", url="/things/${inputs.id}")],
                inputs=[
                    {"name": "id", "type": "string", "in": "path", "required": True},
                    {"name": "n", "type": "number", "in": "query"},
                    {"name": "flag", "type": "boolean", "in": "query"},
                    {"name": "when", "type": "datetime_string", "in": "query"},
                ],
            )
        ],
    )
    project = make_project()
    _, connection = connection_on(project, document)
    with pytest.raises(ActionError) as caught:
        run(project, connection, "go", **inputs)
    assert caught.value.code == "invalid_inputs"
    assert {"field": field, "message": caught.value.fields[0]["message"]} in caught.value.fields
    assert message in caught.value.fields[0]["message"]
    assert provider.seen == []


def test_an_entrypoint_only_action_places_inputs_where_they_say(provider: Provider) -> None:
    provider.routes["/me/7"] = Answer(200, {"id": 7})
    document = definition(
        provider.url,
        [
            {
                "actionId": "get_me",
                "categories": ["crm"],
                "actionType": "get",
                "label": "Me",
                "description": "Me",
                "entrypointUrl": "/me/${inputs.id}",
                "entrypointHttpMethod": "get",
                "inputs": [
                    {"name": "id", "type": "string", "in": "path", "required": True},
                    {"name": "verbose", "type": "boolean", "in": "query"},
                ],
            }
        ],
    )
    project = make_project()
    _, connection = connection_on(project, document)
    assert run(project, connection, "get_me", id="7", verbose=True).data == {"id": 7}
    assert provider.calls("/me/7")[0].query == {"verbose": ["true"]}
