"""Property (issue 28): whatever a definition does with the secrets, no answer of the runtime
holds one. Random secrets (config and setup fields), random definitions that send them to a
real provider on loopback which echoes everything back (headers, query, JSON body, raw body,
values as mapping keys), and results that place the echo, the credentials and literal text
anywhere, including where publishing would refuse them (a version stored before that rule).
Checked: every string (and number) of the answer's data and cursor, or of the error's message
and fields."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connections.models import Connection
from connectors.models import ConnectorVersion
from projects.crypto import encrypt_json
from projects.models import Project
from projects.services import Actor
from runtime import services
from runtime.engine import MIN_SECRET
from tests.factories import make_project
from tests.provider import Answer, Provider, Seen, provider_server

from .helpers import action, connection_on, definition, step

pytestmark = pytest.mark.django_db

CONFIG_SECRETS = ("s0", "s1", "s2")
NAMES = (*CONFIG_SECRETS, "ps")  # ps: the profile's secret setup field
AUTH: dict[str, Any] = {
    "type": "custom",
    "setupFields": [{"key": "ps", "label": "Setup secret", "type": "password", "secret": True}],
    "configFields": [
        *({"key": k, "label": k, "type": "password", "secret": True} for k in CONFIG_SECRETS),
        {"key": "plain", "label": "Plain", "type": "string"},
    ],
}
# Printable text as an end user might paste it (no control characters: the connect page
# refuses them), quotes and backslashes included, no "•" (the mask itself).
secret_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x24F, exclude_characters="•\x7f"),
    min_size=MIN_SECRET,
    max_size=16,
)
plain_text = st.text(alphabet="abcXYZ019 -_", max_size=6)


def echo(status: int) -> Any:
    def answer(seen: Seen) -> Answer:
        try:
            parsed = json.loads(seen.body) if seen.body else None
        except ValueError:
            parsed = None
        values = [v for vs in seen.query.values() for v in vs] + list(seen.headers.values())
        return Answer(
            status,
            {
                "headers": dict(seen.headers),
                "query": seen.query,
                "json": parsed,
                "raw": seen.body,
                "as_keys": {v: len(v) for v in values},
                "items": [{"x": v} for v in values],
            },
        )

    return answer


@st.composite
def sent(draw: st.DrawFn) -> str:
    """An expression of a request place naming a secret, in one of the three forms."""
    name = draw(st.sampled_from(NAMES))
    pre, post = draw(plain_text), draw(plain_text)
    return draw(
        st.sampled_from(
            [
                f"{pre}${{credentials.{name}}}{post}",
                f"{{{{'{pre}' + credentials.{name} + '{post}'}}}}",
                f"$.credentials.{name}",
            ]
        )
    )


LEAVES = [
    "$.steps.fetch.output.data",
    "$.steps.fetch.output.data.headers",
    "$.steps.fetch.output.data.query",
    "$.steps.fetch.output.data.json",
    "$.steps.fetch.output.data.raw",
    "$.steps.fetch.output.data.as_keys",
    "$.steps.fetch.output.raw",
    "$.steps.mapped.output.data",
    "$.credentials",
    "$..*",
    "{{credentials}}",
    *(f"${{credentials.{n}}}" for n in NAMES),
    *(f"{{{{credentials.{n} + '!'}}}}" for n in NAMES),
    "${credentials.plain}",
    "literal text",
]
result_tree = st.recursive(
    st.sampled_from(LEAVES),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "c"]), children, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def hostile_action(draw: st.DrawFn) -> dict[str, Any]:
    args = [
        {"name": f"X-H{n}" if where == "headers" else f"p{n}", "value": value, "in": where}
        for n, (where, value) in enumerate(
            draw(
                st.lists(
                    st.tuples(st.sampled_from(["query", "body", "headers"]), sent()),
                    min_size=1,
                    max_size=4,
                )
            )
        )
    ]
    url = "/echo" + draw(st.sampled_from(["", "?u=${credentials.s0}", "?u=${credentials.ps}"]))
    parameters: dict[str, Any] = {"url": url, "method": draw(st.sampled_from(["get", "post"]))}
    parameters["args"] = args
    if draw(st.booleans()):
        parameters["customErrors"] = [
            {
                "receivedStatus": 400,
                "targetStatus": 422,
                "message": draw(
                    st.sampled_from(
                        [
                            "E ${response.query}",
                            "E ${response.raw} ${response.headers}",
                            "E ${credentials.s1} ${credentials.ps}",
                            "E ${steps.fetch.output.raw}",
                        ]
                    )
                ),
            }
        ]
    mapped = step(
        "mapped",
        "map_fields",
        dataSource="$.steps.fetch.output.data.items",
        fields=[
            {"targetFieldKey": "x"},
            {"targetFieldKey": "leak", "expression": draw(st.sampled_from(LEAVES[8:]))},
        ],
    )
    return action(
        "hostile",
        [step("fetch", "request", **parameters), mapped],
        result={"data": draw(result_tree), "next": draw(st.sampled_from(LEAVES))},
    )


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float):
        yield str(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(key)
            yield from strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)
    else:
        yield str(value)


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        yield server


@pytest.fixture
def world(provider: Provider) -> tuple[Project, Connection]:
    project = make_project()
    document = definition(provider.url, [action("hostile", [])], auth=AUTH)
    _, connection = connection_on(
        project, document, config={"s0": "x" * 8, "s1": "y" * 8, "s2": "z" * 8, "plain": "p"}
    )
    return project, connection


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    secrets=st.fixed_dictionaries({name: secret_text for name in NAMES}),
    hostile=hostile_action(),
    status=st.sampled_from([200, 200, 400]),
)
def test_no_answer_holds_a_secret(
    world: tuple[Project, Connection],
    provider: Provider,
    secrets: dict[str, str],
    hostile: dict[str, Any],
    status: int,
) -> None:
    project, connection = world
    provider.routes["/echo"] = echo(status)
    connection.config_secrets = encrypt_json({k: secrets[k] for k in CONFIG_SECRETS})
    connection.profile.setup_secrets = encrypt_json({"ps": secrets["ps"]})
    version = ConnectorVersion.objects.get(pk=connection.resolved_version_id or 0)
    stored = {**version.definition, "actions": [hostile]}
    ConnectorVersion.objects.filter(pk=version.pk).update(definition=stored)
    services._definitions.clear()
    try:
        result = services.action_run(
            actor=Actor.system(),
            project=project,
            connection=connection,
            action_id="hostile",
            inputs={},
        )
    except services.ActionError as error:
        answer: Any = [error.message, error.fields, error.code]
    else:
        answer = [result.data, result.next]
    for text in strings(answer):
        for name, secret in secrets.items():
            assert secret not in text, f"{name}={secret!r} in {text!r}"
