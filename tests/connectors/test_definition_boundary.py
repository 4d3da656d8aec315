"""The input boundary of pushed definitions (issue 12): control, bidi and header/path injection
are a 400 naming the place; the work bounds (actions, inputs, steps, fields, YAML values) are
a 400 naming the limit, checked before the expensive stages."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from django.test import Client

from connectors.definition import (
    MAX_ACTIONS,
    MAX_FIELDS,
    MAX_INPUTS_PER_ACTION,
    MAX_STEPS_PER_ACTION,
    MAX_YAML_NODES,
    DefinitionError,
    parse_definition,
)
from connectors.models import ConnectorVersion
from profiles.models import ConnectorProfile
from tests.conftest import Tenancy
from tests.factories import connector_yaml, make_api_key, make_profile

pytestmark = pytest.mark.django_db


@pytest.fixture
def profile(tenancy: Tenancy) -> ConnectorProfile:
    return make_profile(tenancy.project)


@pytest.fixture
def api(tenancy: Tenancy) -> Client:
    return Client(headers={"Authorization": f"Bearer {make_api_key(tenancy.project)[1]}"})


def assert_400(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.content[:500]
    return response.json()


# --- Pushed YAML ------------------------------------------------------------------------------


def push(api: Client, body: bytes) -> Any:
    return api.post("/api/v1/connectors/push", body, content_type="application/yaml")


def _yaml_with(**changes: Any) -> bytes:
    import yaml

    document = yaml.safe_load(connector_yaml(health_path="/me", header_name="X-API-Key"))
    for place, value in changes.items():
        target = document
        *parents, last = place.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value
    return yaml.safe_dump(document, allow_unicode=False).encode()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"info__title": "A\x00B"}, "info.title"),
        ({"info__title": "Acme\u202eMRC"}, "info.title"),
        ({"info__description": "bell\x07"}, "info.description"),
        ({"authentication__configFields__0__label": "Key\x1b[31m"}, "configFields[0].label"),
        ({"authentication__headerName": "X-API-Key\r\nX-Evil: 1"}, "authentication.headerName"),
        ({"authentication__headerName": "Host: evil"}, "authentication.headerName"),
        ({"authentication__headerName": "X API Key"}, "authentication.headerName"),
        ({"healthCheck__path": "/me\r\nX-Evil: 1"}, "healthCheck.path"),
        ({"healthCheck__path": "/me\x00"}, "healthCheck.path"),
        ({"actions__0__entrypointUrl": "/contacts\r\nHost: evil"}, "actions[0].entrypointUrl"),
        ({"actions__0__label": "List\u2067"}, "actions[0].label"),
    ],
)
def test_push_refuses_control_and_injection(
    api: Client, profile: ConnectorProfile, changes: dict[str, Any], field: str
) -> None:
    before = ConnectorVersion.objects.count()
    body = _yaml_with(**changes)
    response = push(api, body.replace(b"1.0.0", b"1.1.0"))
    error = assert_400(response)
    assert any(f["field"].endswith(field) for f in error["fields"]), error
    assert ConnectorVersion.objects.count() == before


def test_push_nul_in_a_step_is_refused_with_its_place(
    api: Client, profile: ConnectorProfile
) -> None:
    steps = [{"stepId": "s", "stepFunction": {"functionName": "request", "parameters": {}}}]
    steps[0]["stepFunction"]["parameters"] = {"url": "/x\x00y"}  # type: ignore[index]
    body = _yaml_with(actions__0__steps=steps).replace(b"1.0.0", b"1.1.0")
    error = assert_400(push(api, body))
    assert "actions[0].steps[0].stepFunction.parameters.url" in [
        f["field"] for f in error["fields"]
    ]


def test_push_of_a_clean_definition_with_multiline_description_works(
    api: Client, profile: ConnectorProfile
) -> None:
    body = _yaml_with(info__description="Line one.\n\tLine two.").replace(b"1.0.0", b"1.1.0")
    assert push(api, body).status_code == 201


# --- Work bounds ------------------------------------------------------------------------------


def _document(actions: int = 1, inputs: int = 0, steps: int = 0, fields: int = 1) -> bytes:
    document = yaml.safe_load(connector_yaml(required_fields=()))
    document["authentication"]["configFields"] = [
        {"key": f"f{n}", "label": "F", "type": "string"} for n in range(fields)
    ]
    action = document["actions"][0]
    action["inputs"] = [{"name": f"i{n}", "type": "string", "in": "query"} for n in range(inputs)]
    action["steps"] = [
        {
            "stepId": f"s{n}",
            "stepFunction": {"functionName": "request", "parameters": {"url": f"/s{n}"}},
        }
        for n in range(steps)
    ]
    document["actions"] = [{**copy.deepcopy(action), "actionId": f"a{n}"} for n in range(actions)]
    return yaml.safe_dump(document).encode()


def errors_of(body: bytes) -> dict[str, str]:
    with pytest.raises(DefinitionError) as caught:
        parse_definition([("c.yaml", body)])
    return {e.field: e.message for e in caught.value.errors}


@pytest.mark.parametrize(
    ("knobs", "place", "limit"),
    [
        ({"actions": MAX_ACTIONS + 1}, "actions", MAX_ACTIONS),
        ({"inputs": MAX_INPUTS_PER_ACTION + 1}, "actions[0].inputs", MAX_INPUTS_PER_ACTION),
        ({"steps": MAX_STEPS_PER_ACTION + 1}, "actions[0].steps", MAX_STEPS_PER_ACTION),
        ({"fields": MAX_FIELDS + 1}, "authentication", MAX_FIELDS),
    ],
)
def test_caps_are_enforced_naming_the_limit(knobs: dict[str, int], place: str, limit: int) -> None:
    at_limit = {name: limit for name in knobs}
    parse_definition([("c.yaml", _document(**at_limit))])  # the limit itself is fine
    errors = errors_of(_document(**knobs))
    assert f"at most {limit:,}" in errors[place]


def test_a_file_of_too_many_values_stops_while_parsing() -> None:
    body = connector_yaml() + b"x:\n" + b"- 1\n" * (MAX_YAML_NODES + 1)
    errors = errors_of(body)
    assert f"at most {MAX_YAML_NODES:,} values" in errors["files[c.yaml]"]


def test_a_maximum_push_over_the_api_is_refused_with_the_limit(
    api: Client, profile: ConnectorProfile
) -> None:
    body = _document(actions=MAX_ACTIONS + 1).replace(b"1.0.0", b"1.1.0")
    error = assert_400(api.post("/api/v1/connectors/push", body, content_type="application/yaml"))
    assert any(f"at most {MAX_ACTIONS:,} actions" in f["message"] for f in error["fields"])


def test_reserved_header_names_are_refused() -> None:
    body = connector_yaml(header_name="Content-Length")
    assert "set by the HTTP client" in errors_of(body)["authentication.headerName"]


# --- Uploads ----------------------------------------------------------------------------------


def test_a_push_with_300_parts_is_a_413_naming_the_limit(
    api: Client, profile: ConnectorProfile
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    parts = [SimpleUploadedFile(f"p{n}.yaml", b"[]") for n in range(300)]
    before = ConnectorVersion.objects.count()
    response = api.post("/api/v1/connectors/push", {"files": parts})
    assert response.status_code == 413, response.content[:300]
    body = response.json()
    assert body["code"] == "too_large"
    assert "100" in body["message"]
    assert ConnectorVersion.objects.count() == before


def test_a_chunked_push_without_length_is_a_411(api: Client, profile: ConnectorProfile) -> None:
    body = connector_yaml(version="1.1.0")
    response = api.post(
        "/api/v1/connectors/push",
        body,
        content_type="application/yaml",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    assert response.status_code == 411, response.content[:300]
    assert response.json()["code"] == "length_required"
    assert not ConnectorVersion.objects.filter(version="1.1.0").exists()
