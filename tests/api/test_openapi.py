"""The OpenAPI document is valid, declares every error answer, and holds against a fuzzer:
Schemathesis sends generated requests to every operation of the live application and checks
that none answers a 5xx or a status, body or header the document does not declare."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from openapi_spec_validator import validate
from schemathesis import GenerationMode, checks

from api.openapi import error_statuses
from tests.factories import make_api_key, make_connection, make_profile, make_project

pytestmark = pytest.mark.django_db


def _schema() -> dict[str, Any]:
    """The document as served (JSON: status codes are strings)."""
    return Client().get("/api/v1/openapi.json").json()


def test_the_document_is_valid_openapi() -> None:
    validate(_schema())


def test_every_operation_declares_its_error_answers() -> None:
    document = _schema()
    assert "Error" in document["components"]["schemas"]
    operations = [
        (method, path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]
    assert len(operations) >= 35
    for method, path, operation in operations:
        declared = set(operation["responses"])
        assert {"400", "401", "500"} <= declared, (method, path)
        if "{" in path:
            assert "404" in declared, (method, path)
        if method != "get":
            assert "403" in declared, (method, path)
        for status in error_statuses(method, path, operation["operationId"]):
            body = operation["responses"][str(status)]["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/Error"}


def test_the_webhook_operations_declare_their_conflicts() -> None:
    paths = _schema()["paths"]
    assert "409" in paths["/api/v1/webhooks/{webhook_id}/test"]["post"]["responses"]
    retry = paths["/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry"]["post"]
    assert {"202", "404", "409"} <= set(retry["responses"])
    created = paths["/api/v1/webhooks"]["post"]["responses"]["201"]
    assert created["content"]["application/json"]["schema"]["$ref"].endswith("EndpointCreatedOut")


def test_the_push_declares_its_rule_answers() -> None:
    push = _schema()["paths"]["/api/v1/connectors/push"]["post"]
    assert {"409", "413", "422"} <= set(push["responses"])


EXAMPLES_PER_OPERATION = 8
# A request the document allows may still break a rule no schema can state (a pushed YAML
# that is not a definition, a pin no version matches): a 4xx for it is not a defect.
LOOSER_THAN_THE_RULES = [checks.positive_data_acceptance]


@pytest.mark.django_db(transaction=True)  # a failing request must not abort the others' queries
def test_fuzz_every_operation() -> None:
    """Generated requests (valid and invalid) to every operation, with a real API key, over
    the WSGI application: no 5xx, and every answer's status, headers and body as documented."""
    project = make_project()
    profile = make_profile(project, "acme_crm", "production", version="1.0.0")
    make_connection(profile, "fuzz-1")
    _key, raw = make_api_key(project)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
    headers = {"Authorization": f"Bearer {raw}"}
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 35

    runs = [(op, mode) for op in operations for mode in GenerationMode]
    for operation, mode in runs:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            case.call_and_validate(headers=headers, excluded_checks=LOOSER_THAN_THE_RULES)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # every operation's failure, then all
            failures[f"{operation.label} ({mode})"] = str(exc)[:2000]
    assert failures == {}, "\n\n".join(f"{k}: {v}" for k, v in failures.items())


def test_every_parameter_is_bounded() -> None:
    """Numbers have a minimum and maximum, text a maximum length (or is an enum, a UUID, a
    flag): the document says what the server refuses."""
    unbounded = []
    for path, methods in _schema()["paths"].items():
        for method, operation in methods.items():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                for alternative in schema.get("anyOf", [schema]):
                    bounded = (
                        alternative.get("type") in ("null", "boolean")
                        or "maxLength" in alternative
                        or {"minimum", "maximum"} <= set(alternative)
                        or "enum" in alternative
                        or alternative.get("format") == "uuid"
                        or (
                            alternative.get("type") == "array"
                            and "maxItems" in alternative
                            and "maxLength" in alternative.get("items", {})
                        )
                    )
                    if not bounded:
                        unbounded.append(f"{method.upper()} {path} {parameter['name']}")
    assert unbounded == []


def test_connect_sessions_declare_their_return_urls_and_locale() -> None:
    document = _schema()
    body = document["paths"]["/api/v1/connect_sessions"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    properties = document["components"]["schemas"][ref]["properties"]
    for name, limit in [("success_url", 2000), ("error_url", 2000), ("locale", 10)]:
        types = properties[name].get("anyOf", [properties[name]])
        assert any(t.get("maxLength") == limit for t in types), (name, properties[name])
    assert "allowed origins" in document["paths"]["/api/v1/connect_sessions"]["post"]["description"]
