"""POST /connections/{id}/actions/{actionId}, GET .../requests and the resources endpoints,
against a real provider on loopback: the version that serves a request, token refresh on a
401, the request log (no secret in it), and who may call what."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from connections.models import Connection, Status
from connections.services.connections import connection_set_status
from connections.services.pins import profile_set_pin
from projects.models import Project
from projects.services import Actor
from runtime.models import RequestLog
from tests.factories import make_api_key, make_project
from tests.provider import Answer, Provider, Seen, provider_server

from .helpers import SECRET_KEY, action, connection_on, definition, push, step

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        yield server


def client_for(project: Project, scope: str = "full") -> Client:
    return Client(headers={"Authorization": f"Bearer {make_api_key(project, scope=scope)[1]}"})


def people_definition(url: str, *, version: str = "1.0.0", name: str = "$.first") -> dict[str, Any]:
    return definition(
        url,
        [
            action(
                "list_people",
                [
                    step("fetch", "request", url="/people", response={"dataKey": "people"}),
                    step(
                        "mapped",
                        "map_fields",
                        dataSource="$.steps.fetch.output.data",
                        fields=[{"targetFieldKey": "name", "expression": name, "type": "string"}],
                    ),
                ],
                result={"data": "$.steps.mapped.output.data"},
            )
        ],
        version=version,
    )


def post_action(
    client: Client, connection: Connection, action_id: str = "list_people", **inputs: Any
) -> Any:
    return client.post(
        f"/api/v1/connections/{connection.public_id}/actions/{action_id}",
        {"inputs": inputs},
        content_type="application/json",
    )


PEOPLE = Answer(200, {"people": [{"first": "Ada", "last": "Lovelace"}]})


def test_the_answer_says_which_version_served_it_and_follows_a_publish_at_once(
    provider: Provider,
) -> None:
    provider.routes["/people"] = PEOPLE
    project = make_project()
    _, connection = connection_on(project, people_definition(provider.url), pin="1.x.x")
    client = client_for(project)
    first = post_action(client, connection)
    assert first.status_code == 200, first.content
    body = first.json()
    assert body["data"] == [{"name": "Ada"}]
    assert (body["version"], body["builtin"], body["provider_status"]) == ("1.0.0", False, 200)
    assert body["next"] is None
    push(project, people_definition(provider.url, version="1.1.0", name="$.last"))
    second = post_action(client, connection).json()
    assert (second["version"], second["data"]) == ("1.1.0", [{"name": "Lovelace"}])


def test_a_forced_overwrite_is_seen_on_the_next_request(provider: Provider) -> None:
    provider.routes["/people"] = PEOPLE
    project = make_project()
    Project.objects.filter(pk=project.pk).update(immutable_versioning=False)
    project.refresh_from_db()
    _, connection = connection_on(project, people_definition(provider.url))
    client = client_for(project)
    assert post_action(client, connection).json()["data"] == [{"name": "Ada"}]
    push(project, people_definition(provider.url, name="$.last"), force=True)
    answer = post_action(client, connection).json()
    assert (answer["version"], answer["data"]) == ("1.0.0", [{"name": "Lovelace"}])


def test_a_pin_change_switches_the_version_of_the_next_request(provider: Provider) -> None:
    provider.routes["/people"] = PEOPLE
    project = make_project()
    profile, connection = connection_on(project, people_definition(provider.url), pin="1.x.x")
    push(project, people_definition(provider.url, version="2.0.0", name="$.last"))
    client = client_for(project)
    assert post_action(client, connection).json()["version"] == "1.0.0"
    profile_set_pin(actor=Actor.system(), profile=profile, pin="2.x.x")
    answer = post_action(client, connection).json()
    assert (answer["version"], answer["data"]) == ("2.0.0", [{"name": "Lovelace"}])


def test_an_action_the_resolved_version_lacks_is_404_and_disabled_is_409(
    provider: Provider,
) -> None:
    project = make_project()
    _, connection = connection_on(project, people_definition(provider.url))
    client = client_for(project)
    missing = post_action(client, connection, "delete_everything")
    assert missing.status_code == 404
    assert missing.json()["code"] == "action_not_found"
    connection_set_status(actor=Actor.system(), connection=connection, status=Status.DISABLED)
    disabled = post_action(client, connection)
    assert disabled.status_code == 409
    assert disabled.json()["code"] == "connection_disabled"
    assert provider.seen == []


def test_invalid_inputs_are_a_400_naming_them(provider: Provider) -> None:
    project = make_project()
    _, connection = connection_on(project, people_definition(provider.url))
    answer = post_action(client_for(project), connection, nope=1)
    assert answer.status_code == 400
    assert answer.json()["fields"] == [
        {"field": "inputs.nope", "message": "is not an input of this action"}
    ]


OAUTH = {
    "type": "oauth2",
    "authorizationUrl": "https://auth.example.com/authorize",
    "setupFields": [
        {"key": "client_id", "label": "Client", "type": "string", "required": True},
        {
            "key": "client_secret",
            "label": "Secret",
            "type": "password",
            "required": True,
            "secret": True,
        },
    ],
}


def oauth_connection(provider: Provider, *, expires_in: float = 3600) -> tuple[Project, Connection]:
    from profiles.services import profile_update

    project = make_project()
    document = people_definition(provider.url)
    document["authentication"] = {**OAUTH, "tokenUrl": provider.url + "/token"}
    profile, connection = connection_on(
        project,
        document,
        config={},
        tokens={
            "access_token": "old-access-token-123",
            "refresh_token": "refresh-token-456",
            "token_type": "Bearer",
            "expires_at": time.time() + expires_in,
        },
    )
    profile_update(
        actor=Actor.system(),
        profile=profile,
        version=connection.resolved_version,  # type: ignore[arg-type]
        name=profile.name,
        is_default=profile.is_default,
        values={"client_id": "cid", "client_secret": "client-secret-789"},
    )
    return project, Connection.objects.get(pk=connection.pk)


def _people_for(token: str) -> Any:
    def answer(seen: Seen) -> Answer:
        if seen.headers.get("Authorization") == f"Bearer {token}":
            return PEOPLE
        return Answer(401, {"error": "expired"})

    return answer


TOKEN_ANSWER = Answer(
    200, {"access_token": "new-access-token-abc", "token_type": "bearer", "expires_in": 3600}
)


def test_401_refreshes_once_and_retries(provider: Provider) -> None:
    provider.routes["/people"] = _people_for("new-access-token-abc")
    provider.routes["/token"] = TOKEN_ANSWER
    project, connection = oauth_connection(provider)
    answer = post_action(client_for(project), connection)
    assert answer.status_code == 200, answer.content
    assert len(provider.calls("/token")) == 1
    assert [s.headers["Authorization"] for s in provider.calls("/people")] == [
        "Bearer old-access-token-123",
        "Bearer new-access-token-abc",
    ]


def test_an_expired_token_is_refreshed_before_the_request(provider: Provider) -> None:
    provider.routes["/people"] = _people_for("new-access-token-abc")
    provider.routes["/token"] = TOKEN_ANSWER
    project, connection = oauth_connection(provider, expires_in=-10)
    assert post_action(client_for(project), connection).status_code == 200
    assert len(provider.calls("/people")) == 1


def test_refused_after_the_refresh_is_needs_reauth_and_the_status_changes(
    provider: Provider,
) -> None:
    provider.routes["/people"] = Answer(401, {"error": "nope"})
    provider.routes["/token"] = TOKEN_ANSWER
    project, connection = oauth_connection(provider)
    answer = post_action(client_for(project), connection)
    assert answer.status_code == 409
    assert answer.json()["code"] == "needs_reauth"
    assert answer.json()["provider_status"] == 401
    assert len(provider.calls("/token")) == 1  # once, no loop
    assert len(provider.calls("/people")) == 2
    assert Connection.objects.get(pk=connection.pk).status == Status.NEEDS_REAUTH


def test_the_request_log_and_every_answer_hold_no_secret(provider: Provider) -> None:
    provider.routes["/people"] = _people_for("new-access-token-abc")
    provider.routes["/token"] = TOKEN_ANSWER
    project, connection = oauth_connection(provider)
    client = client_for(project)
    bodies = [post_action(client, connection).content]
    provider.routes["/people"] = Answer(500, {"error": "old-access-token-123"})
    bodies.append(post_action(client, connection).content)
    listing = client.get(f"/api/v1/connections/{connection.public_id}/requests")
    assert listing.status_code == 200
    items = listing.json()["items"]
    assert [i["status"] for i in items] == ["error", "ok"]
    assert items[0]["http_status"] == 502 and items[0]["provider_status"] == 500
    bodies.append(listing.content)
    rows = json.dumps(list(RequestLog.objects.values()), default=str)
    for secret in (
        "old-access-token-123",
        "new-access-token-abc",
        "refresh-token-456",
        "client-secret-789",
        SECRET_KEY,
    ):
        assert secret not in rows
        for body in bodies:
            assert secret.encode() not in body


def test_the_request_log_pages_newest_first(provider: Provider) -> None:
    provider.routes["/people"] = PEOPLE
    project = make_project()
    _, connection = connection_on(project, people_definition(provider.url))
    client = client_for(project)
    ids = [post_action(client, connection).json()["request_id"] for _ in range(3)]
    url = f"/api/v1/connections/{connection.public_id}/requests"
    first = client.get(url, {"limit": 2}).json()
    assert [i["request_id"] for i in first["items"]] == ids[::-1][:2]
    second = client.get(url, {"limit": 2, "cursor": first["next"]}).json()
    assert [i["request_id"] for i in second["items"]] == ids[:1]
    assert second["next"] is None
    assert client.get(url, {"cursor": "garbage"}).status_code == 400


def test_rbac_on_the_new_endpoints(provider: Provider) -> None:
    provider.routes["/people"] = PEOPLE
    project = make_project()
    _, connection = connection_on(project, people_definition(provider.url))
    stranger = client_for(make_project())
    reader = client_for(project, scope="read")
    urls = [
        f"/api/v1/connections/{connection.public_id}/requests",
        f"/api/v1/connections/{connection.public_id}/resources?resource_ids=a",
        f"/api/v1/connections/{connection.public_id}/resources/children",
        f"/api/v1/connections/{connection.public_id}/resources/search?query=x",
    ]
    assert post_action(stranger, connection).status_code == 404
    assert post_action(reader, connection).status_code == 403
    assert post_action(Client(), connection).status_code == 401
    for url in urls:
        assert stranger.get(url).status_code == 404, url
        assert Client().get(url).status_code == 401, url
    assert reader.get(urls[0]).status_code == 200
    # No resources section: 404 not_supported.
    answer = client_for(project).get(urls[1])
    assert (answer.status_code, answer.json()["code"]) == (404, "not_supported")
    wrong_method = client_for(project).get(
        f"/api/v1/connections/{connection.public_id}/actions/list_people"
    )
    assert wrong_method.status_code == 405
    assert provider.seen == []


def test_resources_run_the_actions_the_definition_names(provider: Provider) -> None:
    def children(seen: Seen) -> Answer:
        parent = (seen.query.get("parent") or [""])[0]
        rows = [{"id": f"{parent or 'root'}-1", "name": "One", "kind": "file"}]
        return Answer(200, {"items": rows, "next": "c2"})

    provider.routes["/items"] = children
    provider.routes["/items/f1"] = Answer(200, {"id": "f1", "name": "F", "kind": "folder"})
    provider.routes["/search"] = Answer(200, {"items": [{"id": "s"}]})
    document = definition(
        provider.url,
        [
            action(
                "get_item",
                [step("fetch", "request", url="/items/${inputs.resource_id}")],
                inputs=[{"name": "resource_id", "type": "string", "in": "path", "required": True}],
            ),
            action(
                "children",
                [
                    step(
                        "fetch",
                        "request",
                        url="/items",
                        args=[
                            {
                                "name": "parent",
                                "value": "$.inputs.resource_id",
                                "in": "query",
                                "condition": "{{present(inputs.resource_id)}}",
                            }
                        ],
                        response={"dataKey": "items", "nextKey": "next"},
                    )
                ],
                inputs=[{"name": "resource_id", "type": "string", "in": "query"}],
            ),
            action(
                "find",
                [
                    step(
                        "fetch",
                        "request",
                        url="/search",
                        args=[{"name": "q", "value": "$.inputs.query", "in": "query"}],
                        response={"dataKey": "items"},
                    )
                ],
                inputs=[{"name": "query", "type": "string", "in": "query", "required": True}],
            ),
        ],
        resources={"get": "get_item", "children": "children", "search": "find"},
    )
    project = make_project()
    _, connection = connection_on(project, document)
    client = client_for(project)
    base = f"/api/v1/connections/{connection.public_id}/resources"
    assert client.get(base, {"resource_ids": ["f1"]}).json() == {
        "items": [{"id": "f1", "name": "F", "kind": "folder"}]
    }
    root = client.get(base + "/children").json()
    assert root == {"items": [{"id": "root-1", "name": "One", "kind": "file"}], "next_cursor": "c2"}
    child = client.get(base + "/children", {"resource_id": "f1"}).json()
    assert child["items"][0]["id"] == "f1-1"
    assert client.get(base + "/search", {"query": "rep"}).json()["items"] == [{"id": "s"}]
    assert provider.calls("/search")[0].query == {"q": ["rep"]}
    assert client.get(base + "/children", {"page_size": 1001}).status_code == 400


def _two_requests_one_40_days_old(provider: Provider) -> int:
    """Two calls logged, the first made to look 40 days old: its request-log row's id."""
    from datetime import timedelta

    from django.utils import timezone

    provider.routes["/people"] = PEOPLE
    project = make_project()
    _, connection = connection_on(project, people_definition(provider.url))
    client = client_for(project)
    post_action(client, connection)
    post_action(client, connection)
    old = RequestLog.objects.order_by("id").first()
    assert old is not None
    RequestLog.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    return old.pk


def test_prune_request_log_deletes_rows_older_than_the_retention(provider: Provider) -> None:
    old = _two_requests_one_40_days_old(provider)
    call_command("prune_request_log", "--older-than-days", "30")
    assert list(RequestLog.objects.values_list("pk", flat=True)) != [old]
    assert RequestLog.objects.count() == 1


def test_the_schedulers_daily_pruning_takes_old_request_log_rows(provider: Provider) -> None:
    from core import pruning

    old = _two_requests_one_40_days_old(provider)
    deleted = pruning.run_all()
    assert deleted["request_log"] == 1
    assert not RequestLog.objects.filter(pk=old).exists()
    assert RequestLog.objects.count() == 1


def test_failed_requests_appear_in_the_connections_timeline(provider: Provider) -> None:
    from dashboard.connections.timeline import connection_timeline as timeline

    provider.routes["/people"] = PEOPLE
    project = make_project()
    _, connection = connection_on(project, people_definition(provider.url))
    client = client_for(project)
    assert post_action(client, connection).status_code == 200
    provider.routes["/people"] = Answer(500, {"error": "down"})
    assert post_action(client, connection).status_code == 502
    items, _ = timeline(connection)
    failed = [i for i in items if i.kind == "request-error"]
    assert [i.title for i in failed] == ["Request failed: list_people"]
    assert "(502) · provider 500 · 1.0.0" in failed[0].detail


def test_call_action_prints_the_result_and_fails_with_the_code(provider: Provider) -> None:
    from io import StringIO

    from django.core.management.base import CommandError

    provider.routes["/people"] = PEOPLE
    project = make_project()
    _, connection = connection_on(project, people_definition(provider.url))
    out = StringIO()
    call_command("call_action", str(connection.public_id), "list_people", stdout=out)
    printed = json.loads(out.getvalue())
    assert (printed["data"], printed["version"]) == ([{"name": "Ada"}], "1.0.0")
    with pytest.raises(CommandError, match=r"invalid_inputs: .*inputs\.x: is not an input"):
        call_command("call_action", str(connection.public_id), "list_people", "--input", "x=1")
    with pytest.raises(CommandError, match="No such connection"):
        call_command("call_action", "not-a-uuid", "list_people")


def test_last_used_is_written_with_each_request_log_row(provider: Provider) -> None:
    """Issue 30: "Last used" lagged behind the Requests tab (written at most once a minute)."""
    from runtime.models import RequestLog

    provider.routes["/people"] = PEOPLE
    project = make_project()
    _, connection = connection_on(project, people_definition(provider.url))
    client = client_for(project)
    for _ in range(3):
        assert post_action(client, connection).status_code == 200
        connection.refresh_from_db()
        newest = RequestLog.objects.filter(connection_id=connection.pk).latest("created_at")
        assert connection.last_used_at == newest.created_at
