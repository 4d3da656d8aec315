"""The dashboard's runtime parts: Try it on the version page (HTMX and plain form), the
connection's Requests tab, the version page's request figures; who may do what."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from connections.models import GrantRole
from connections.services.connections import grant_set
from connectors.models import ConnectorVersion
from projects.services import Actor
from runtime.models import RequestLog
from tests.conftest import Tenancy
from tests.factories import member_id
from tests.provider import Answer, Provider, provider_server
from tests.runtime.helpers import SECRET_KEY, action, connection_on, definition, step

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        server.routes["/people"] = Answer(200, {"people": [{"first": "Ada"}, {"first": "Alan"}]})
        yield server


def document(url: str) -> dict[str, Any]:
    return definition(
        url,
        [
            action(
                "list_people",
                [
                    step(
                        "fetch",
                        "request",
                        url="/people",
                        args=[{"name": "q", "value": "$.inputs.q", "in": "query"}],
                        response={"dataKey": "people"},
                    ),
                    step(
                        "mapped",
                        "map_fields",
                        dataSource="$.steps.fetch.output.data",
                        fields=[{"targetFieldKey": "name", "expression": "$.first"}],
                    ),
                ],
                inputs=[{"name": "q", "type": "string", "in": "query", "required": True}],
                result={"data": "$.steps.mapped.output.data"},
            )
        ],
    )


def world(tenancy: Tenancy, provider: Provider) -> tuple[Any, ConnectorVersion]:
    _, connection = connection_on(tenancy.project, document(provider.url))
    version = connection.resolved_version
    assert version is not None
    return connection, version


def try_url(tenancy: Tenancy, version: ConnectorVersion) -> str:
    return reverse(
        "action_try", args=[tenancy.project.slug, version.connector.key, version.pk, "list_people"]
    )


def version_url(tenancy: Tenancy, version: ConnectorVersion) -> str:
    return reverse("version_detail", args=[tenancy.project.slug, version.connector.key, version.pk])


def test_try_it_over_htmx_shows_the_mapped_result_and_the_version(
    tenancy: Tenancy, provider: Provider
) -> None:
    connection, version = world(tenancy, provider)
    client = tenancy.client("admin")
    page = client.get(version_url(tenancy, version))
    assert b'data-testid="try-it-list_people"' in page.content
    answer = client.post(
        try_url(tenancy, version),
        {"connection": str(connection.public_id), "input_q": "ad"},
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 200
    html = answer.content.decode()
    assert "<html" not in html  # the partial
    assert 'data-testid="try-version">1.0.0<' in html
    assert "&quot;name&quot;: &quot;Ada&quot;" in html
    assert provider.calls("/people")[0].query == {"q": ["ad"]}
    assert SECRET_KEY not in html
    assert RequestLog.objects.filter(connection=connection, status="ok").count() == 1


def test_try_it_as_a_plain_form_and_its_input_errors(tenancy: Tenancy, provider: Provider) -> None:
    connection, version = world(tenancy, provider)
    client = tenancy.client("owner")
    assert client.get(try_url(tenancy, version)).status_code == 200
    answer = client.post(
        try_url(tenancy, version), {"connection": str(connection.public_id), "input_q": "x"}
    )
    assert answer.status_code == 200
    assert b"<html" in answer.content and b'data-testid="try-json"' in answer.content
    missing = client.post(try_url(tenancy, version), {"connection": str(connection.public_id)})
    assert missing.status_code == 400
    assert provider.calls("/people") and len(provider.calls("/people")) == 1


@pytest.mark.parametrize(
    ("who", "status"),
    [("member", 400), ("viewer", 400), ("stranger", 404), ("anonymous", 302)],
)
def test_try_it_needs_a_connection_the_user_may_edit(
    tenancy: Tenancy, provider: Provider, who: str, status: int
) -> None:
    connection, version = world(tenancy, provider)
    client = tenancy.client(who)
    answer = client.post(
        try_url(tenancy, version), {"connection": str(connection.public_id), "input_q": "x"}
    )
    assert answer.status_code == status
    if who in ("member", "viewer"):  # the connection is not among their choices
        assert b"try-it-list_people" not in client.get(version_url(tenancy, version)).content
    assert provider.calls("/people") == []


def test_a_member_with_an_editor_grant_may_try_it_and_a_viewer_grant_may_not(
    tenancy: Tenancy, provider: Provider
) -> None:
    connection, version = world(tenancy, provider)
    member = tenancy.users["member"]
    grant_set(
        actor=Actor.system(),
        connection=connection,
        subject_type="user",
        subject_id=member_id(member),
        role=GrantRole.VIEWER,
    )
    client = tenancy.client("member")
    body = {"connection": str(connection.public_id), "input_q": "x"}
    assert client.post(try_url(tenancy, version), body).status_code == 400
    grant_set(
        actor=Actor.system(),
        connection=connection,
        subject_type="user",
        subject_id=member_id(member),
        role=GrantRole.EDITOR,
    )
    assert client.post(try_url(tenancy, version), body).status_code == 200
    assert len(provider.calls("/people")) == 1


def test_try_it_wrong_method_is_405(tenancy: Tenancy, provider: Provider) -> None:
    _, version = world(tenancy, provider)
    assert tenancy.client("admin").put(try_url(tenancy, version)).status_code == 405


def test_requests_tab_lists_filters_and_keeps_its_queries(
    tenancy: Tenancy, provider: Provider
) -> None:
    connection, version = world(tenancy, provider)
    client = tenancy.client("admin")
    for q in ("a", "b"):
        client.post(
            try_url(tenancy, version), {"connection": str(connection.public_id), "input_q": q}
        )
    provider.routes["/people"] = Answer(500, {})
    client.post(
        try_url(tenancy, version), {"connection": str(connection.public_id), "input_q": "c"}
    )
    detail = client.get(
        reverse("connection_detail", args=[tenancy.project.slug, connection.public_id])
    )
    assert b'data-testid="requests-tab"' in detail.content
    url = reverse("connection_requests", args=[tenancy.project.slug, connection.public_id])
    page = client.get(url)
    assert page.content.count(b'data-testid="request-row"') == 3
    errors = client.get(
        url, {"status": "error"}, headers={"HX-Request": "true", "HX-Target": "requests-table"}
    )
    assert errors.content.count(b'data-testid="request-row"') == 1
    assert b"<html" not in errors.content
    with CaptureQueriesContext(db) as few:
        client.get(url)
    for n in range(10):
        client.post(
            try_url(tenancy, version), {"connection": str(connection.public_id), "input_q": str(n)}
        )
    with CaptureQueriesContext(db) as many:
        client.get(url)
    assert len(many) == len(few)
    assert tenancy.client("stranger").get(url).status_code == 404
    assert tenancy.client("member").get(url).status_code == 404


def test_version_page_counts_requests_and_errors(tenancy: Tenancy, provider: Provider) -> None:
    connection, version = world(tenancy, provider)
    client = tenancy.client("admin")
    client.post(
        try_url(tenancy, version), {"connection": str(connection.public_id), "input_q": "a"}
    )
    provider.routes["/people"] = Answer(502, {})
    client.post(
        try_url(tenancy, version), {"connection": str(connection.public_id), "input_q": "b"}
    )
    html = client.get(version_url(tenancy, version)).content.decode()
    assert 'data-testid="requests-24h">2<' in html
    assert 'data-testid="requests-7d">2<' in html
    assert "errors 1 (50%)" in html
