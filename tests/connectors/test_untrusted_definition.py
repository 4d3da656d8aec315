"""A definition is untrusted code (issue 28): what publishing refuses.

- a secret field (or the credentials object as a whole) named anywhere but where a request is
  made (a step's url, args values and authorization, and baseUrl), with the field's place;
  non-secret fields stay usable everywhere;
- ``${credentials.x}`` (and ``credentials.x`` in JEXL or JSONPath) must name a declared field;
- CR or LF in a header name or value;
- what is statically unbounded: a literal power over the bound, a regular expression in a
  JSONPath (its backtracking cannot be bounded).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from connectors.definition import FieldError

from .test_definition import Definition, base_definition, errors_of, parse

STEPS = "actions[0].steps"


def with_steps(*steps: dict[str, Any], result: Any = None) -> Definition:
    """The base definition whose first action runs ``steps`` (and ``result``)."""
    definition = base_definition()
    action = definition["actions"][0]
    action["steps"] = [copy.deepcopy(s) for s in steps]
    action["inputs"].append({"name": "n", "type": "number", "in": "query"})
    if result is None:
        action.pop("result", None)
    else:
        action["result"] = result
    return definition


def request(url: str = "/contacts", **parameters: Any) -> dict[str, Any]:
    return {
        "stepId": "fetch",
        "stepFunction": {"functionName": "request", "parameters": {"url": url, **parameters}},
    }


def mapped(**parameters: Any) -> dict[str, Any]:
    parameters.setdefault("dataSource", "$.steps.fetch.output.data")
    parameters.setdefault("fields", [{"targetFieldKey": "name"}])
    return {
        "stepId": "mapped",
        "stepFunction": {"functionName": "map_fields", "parameters": parameters},
    }


def one_error(definition: Definition) -> FieldError:
    errors = errors_of(definition)
    assert len(errors) == 1, errors
    return errors[0]


# --- Secrets only where requests are made ------------------------------------------------------


@pytest.mark.parametrize(
    ("definition", "place"),
    [
        (
            with_steps(request(), result={"data": "$.credentials"}),
            "actions[0].result.data",
        ),
        (
            with_steps(request(), result={"data": "$.credentials.api_key"}),
            "actions[0].result.data",
        ),
        (
            with_steps(request(), result={"data": "$['credentials']['api_key']"}),
            "actions[0].result.data",
        ),
        (
            with_steps(request(), result={"next": "${credentials.api_key}"}),
            "actions[0].result.next",
        ),
        (
            with_steps(request(), result={"data": "{{credentials}}"}),
            "actions[0].result.data",
        ),
        (
            with_steps(request(), result={"data": '{{credentials["api" + "_key"]}}'}),
            "actions[0].result.data",
        ),
        (
            with_steps(
                request(),
                mapped(
                    fields=[{"targetFieldKey": "leak", "expression": "{{credentials.api_key}}"}]
                ),
            ),
            f"{STEPS}[1].stepFunction.parameters.fields[0].expression",
        ),
        (
            with_steps(
                request(),
                mapped(
                    fields=[
                        {
                            "targetFieldKey": "kind",
                            "type": "enum",
                            "enumMapper": {
                                "matcher": [
                                    {
                                        "matchExpression": "{{value == credentials.api_key}}",
                                        "value": "x",
                                    }
                                ]
                            },
                        }
                    ]
                ),
            ),
            f"{STEPS}[1].stepFunction.parameters.fields[0].enumMapper.matcher[0].matchExpression",
        ),
        (
            with_steps(request(), mapped(dataSource="$.credentials")),
            f"{STEPS}[1].stepFunction.parameters.dataSource",
        ),
        (
            with_steps(
                request(),
                {
                    "stepId": "cast",
                    "stepFunction": {
                        "functionName": "typecast",
                        "parameters": {"dataSource": "${credentials.api_key}", "fields": []},
                    },
                },
            ),
            f"{STEPS}[1].stepFunction.parameters.dataSource",
        ),
        (
            with_steps(
                request(),
                {**mapped(), "condition": "{{credentials.api_key == 'sk_live'}}"},
            ),
            f"{STEPS}[1].condition",
        ),
        (
            with_steps(
                request(
                    args=[
                        {
                            "name": "q",
                            "value": "x",
                            "in": "query",
                            "condition": "{{present(credentials.api_key)}}",
                        }
                    ]
                )
            ),
            f"{STEPS}[0].stepFunction.parameters.args[0].condition",
        ),
        (
            with_steps(
                request(
                    customErrors=[
                        {
                            "receivedStatus": 400,
                            "targetStatus": 400,
                            "message": "bad key ${credentials.api_key}",
                        }
                    ]
                )
            ),
            f"{STEPS}[0].stepFunction.parameters.customErrors[0].message",
        ),
        (
            with_steps(
                request(
                    customErrors=[
                        {
                            "receivedStatus": 400,
                            "targetStatus": 400,
                            "condition": "{{credentials.api_key|length > 3}}",
                        }
                    ]
                )
            ),
            f"{STEPS}[0].stepFunction.parameters.customErrors[0].condition",
        ),
    ],
)
def test_a_secret_named_outside_a_request_is_refused_at_its_place(
    definition: Definition, place: str
) -> None:
    error = one_error(definition)
    assert error.field == place
    assert "credentials" in error.message
    assert "only" in error.message  # says where it may be named


def test_the_message_names_the_secret_field() -> None:
    error = one_error(with_steps(request(), result={"data": "{{credentials.api_key|upper}}"}))
    assert "credentials.api_key" in error.message
    assert "secret" in error.message


def test_a_setup_secret_is_a_secret_too() -> None:
    definition = with_steps(request(), result={"data": "${credentials.client_secret}"})
    definition["authentication"]["setupFields"] = [
        {"key": "client_secret", "label": "Secret", "type": "password", "secret": True}
    ]
    assert one_error(definition).field == "actions[0].result.data"


def test_non_secret_fields_stay_usable_everywhere() -> None:
    definition = with_steps(
        request(),
        {
            **mapped(
                dataSource="$.steps.fetch.output.data",
                fields=[
                    {"targetFieldKey": "host", "expression": "{{credentials.subdomain + '.x'}}"},
                    {"targetFieldKey": "sub", "expression": "${credentials.subdomain}"},
                    # JSONPath in a field is on the record: a provider's own "credentials" key
                    {"targetFieldKey": "theirs", "expression": "$.credentials.api_key"},
                ],
            ),
            "condition": "{{credentials.subdomain != 'test'}}",
        },
        result={"data": "$.steps.mapped.output.data", "next": "$.credentials.subdomain"},
    )
    assert parse(definition).definition["actions"][0]["result"]["next"]


def test_secrets_may_be_named_where_the_request_is_made() -> None:
    definition = with_steps(
        request(
            url="/contacts/${credentials.api_key}",
            args=[
                {"name": "X-Key", "value": "${credentials.api_key}", "in": "headers"},
                {"name": "key", "value": "{{credentials.api_key|lower}}", "in": "query"},
                {"name": "auth", "value": {"nested": "$.credentials"}, "in": "body"},
            ],
            authorization={"type": "bearer", "token": "${credentials.api_key}"},
        )
    )
    assert parse(definition).definition["actions"][0]["steps"][0]["stepId"] == "fetch"


def test_a_response_key_is_the_provider_body_not_the_credentials() -> None:
    definition = with_steps(request(response={"dataKey": "$.credentials.api_key"}))
    assert parse(definition).definition


# --- Declared fields only ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "place"),
    [
        (
            request(url="/v1/${credentials.not_declared}/x"),
            f"{STEPS}[0].stepFunction.parameters.url",
        ),
        (
            request(args=[{"name": "k", "value": "{{credentials.nope}}", "in": "query"}]),
            f"{STEPS}[0].stepFunction.parameters.args[0].value",
        ),
        (
            request(authorization={"type": "bearer", "token": "$.credentials.missing"}),
            f"{STEPS}[0].stepFunction.parameters.authorization.token",
        ),
    ],
)
def test_credentials_must_name_a_declared_field(step: dict[str, Any], place: str) -> None:
    error = one_error(with_steps(step))
    assert error.field == place
    assert "names no setupFields or configFields key" in error.message


# --- Headers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameters", "place"),
    [
        (
            {"args": [{"name": "X-Ok", "value": "a\r\nX-Injected: 1", "in": "headers"}]},
            "args[0].value",
        ),
        ({"args": [{"name": "X-Ok", "value": "a\nb", "in": "headers"}]}, "args[0].value"),
        ({"args": [{"name": "X-Bad: 1", "value": "a", "in": "headers"}]}, "args[0].name"),
        ({"args": [{"name": "X Bad", "value": "a", "in": "headers"}]}, "args[0].name"),
        (
            {"authorization": {"type": "header", "name": "X-Key", "value": "a\rb"}},
            "authorization.value",
        ),
        ({"authorization": {"type": "bearer", "token": "a\nb"}}, "authorization.token"),
    ],
)
def test_cr_lf_and_non_token_header_names_are_refused(
    parameters: dict[str, Any], place: str
) -> None:
    error = one_error(with_steps(request(**parameters)))
    assert error.field == f"{STEPS}[0].stepFunction.parameters.{place}"


def test_a_multi_line_query_or_body_value_is_still_fine() -> None:
    definition = with_steps(
        request(
            args=[
                {"name": "note", "value": "line 1\nline 2", "in": "body"},
                {"name": "Not A Header", "value": "x", "in": "query"},
            ]
        )
    )
    assert parse(definition).definition


# --- Statically unbounded expressions ----------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "word"),
    [
        ("{{9 ^ 6000000 > 0 && 9 ^ 6000001 > 0}}", "power"),
        ("{{inputs.n ^ 100000 > 0}}", "power"),
        ("{{(2 ^ 5000) > 1}}", "power"),
        ("$.steps.fetch.output.data[?(@.name =~ '(a+)+$')]", "regular expression"),
        ("$.steps.fetch.output.data[*].name.`sub(/(a+)+$/, b)`", "regular expression"),
    ],
)
def test_a_statically_unbounded_expression_is_refused(condition: str, word: str) -> None:
    step = {**mapped(), "condition": condition}
    error = one_error(with_steps(request(), step))
    assert error.field == f"{STEPS}[1].condition"
    assert word in error.message


def test_a_small_literal_power_is_fine() -> None:
    step = {**mapped(), "condition": "{{2 ^ 10 == 1024 && inputs.n ^ 2 > 3}}"}
    assert parse(with_steps(request(), step)).definition


def test_a_custom_error_message_may_name_the_providers_answer() -> None:
    # docs/connector-definition.md: "response and status are in its context"
    definition = with_steps(
        request(
            customErrors=[
                {
                    "receivedStatus": 400,
                    "targetStatus": 400,
                    "message": "The provider said ${response.error.detail} (${status})",
                }
            ]
        )
    )
    assert parse(definition).definition
    elsewhere = with_steps(request(url="/contacts/${response.id}"))
    assert "only inputs, credentials and steps" in one_error(elsewhere).message
