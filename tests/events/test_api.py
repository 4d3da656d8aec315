"""The "Webhooks" endpoints of docs/api.md: CRUD, rotate_secret, test, deliveries
with filters and paging, retry; another project's ids 404, read keys 403, bad input 400."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from events.models import Delivery, DeliveryStatus, Event, WebhookEndpoint
from events.services import endpoint_create, event_record
from projects.models import AuditEntry
from projects.services import Actor
from tests.conftest import Tenancy
from tests.factories import make_api_key

from .receiver import Receiver

pytestmark = pytest.mark.django_db
BASE = "/api/v1/webhooks"
SYSTEM = Actor.system()


def _client(tenancy: Tenancy, scope: str = "full", project: Any = None) -> Client:
    key = make_api_key(project or tenancy.project, scope=scope)[1]
    return Client(headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
def api(tenancy: Tenancy) -> Client:
    return _client(tenancy)


def test_create_shows_the_secret_once_then_read_update_delete(
    api: Client, tenancy: Tenancy, receiver: Receiver
) -> None:
    created = api.post(
        BASE,
        {"url": receiver.url(), "events": ["connection.created"], "description": "CRM sync"},
        content_type="application/json",
    )
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {
        "id",
        "url",
        "events",
        "description",
        "enabled",
        "disabled_reason",
        "secret",
        "created_at",
    }
    assert body["secret"].startswith("whsec_") and body["enabled"] is True
    secret = body["secret"]
    endpoint = WebhookEndpoint.objects.get()
    assert secret not in endpoint.secret  # stored encrypted
    listed = api.get(BASE).json()
    assert [e["id"] for e in listed] == [body["id"]] and "secret" not in listed[0]
    one = api.get(f"{BASE}/{body['id']}")
    assert one.status_code == 200 and "secret" not in one.json()
    assert secret not in one.content.decode() and secret not in str(api.get(BASE).content)
    patched = api.patch(
        f"{BASE}/{body['id']}",
        {"events": ["*"], "enabled": False},
        content_type="application/json",
    )
    assert patched.status_code == 200
    assert patched.json()["events"] == ["*"] and patched.json()["enabled"] is False
    actions = list(
        AuditEntry.objects.filter(target_type="webhookendpoint").values_list("action", flat=True)
    )
    assert sorted(actions) == ["webhook.created", "webhook.updated"]
    assert secret not in str(list(AuditEntry.objects.values("before", "after")))
    assert api.delete(f"{BASE}/{body['id']}").status_code == 204
    assert not WebhookEndpoint.objects.exists()
    assert api.get(f"{BASE}/{body['id']}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "", "events": ["*"]}, "url"),
        ({"url": "notaurl", "events": ["*"]}, "url"),
        ({"url": "ftp://files.example.com/x", "events": ["*"]}, "url"),
        ({"url": "https://hooks.example.com/\u0000", "events": ["*"]}, "url"),
        ({"url": "https://hooks.example.com/" + "a" * 2000, "events": ["*"]}, "url"),
        ({"url": "https://hooks.example.com/", "events": []}, "events"),
        ({"url": "https://hooks.example.com/", "events": ["connection.exploded"]}, "events"),
        (
            {"url": "https://hooks.example.com/", "events": ["*"], "description": "x" * 201},
            "description",
        ),
        (
            {"url": "https://hooks.example.com/", "events": ["*"], "description": "a\u202eb"},
            "description",
        ),
    ],
)
def test_bad_input_is_400_and_changes_nothing(
    api: Client, body: dict[str, Any], field: str
) -> None:
    response = api.post(BASE, body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert any(f["field"].startswith(field) for f in response.json()["fields"]), response.json()
    assert not WebhookEndpoint.objects.exists()


def test_https_only_and_public_addresses_outside_local_and_test(api: Client, settings: Any) -> None:
    settings.CONNECTION_ALLOW_PRIVATE_NETWORK = False
    for url in ["http://hooks.example.com/", "https://127.0.0.1:8443/", "https://192.168.1.5/"]:
        response = api.post(BASE, {"url": url, "events": ["*"]}, content_type="application/json")
        assert response.status_code == 400
        assert response.json()["fields"][0]["field"] == "url"
    assert not WebhookEndpoint.objects.exists()


def test_rotate_test_deliveries_and_retry(
    api: Client, tenancy: Tenancy, receiver: Receiver, run_tasks: Any
) -> None:
    with run_tasks():
        body = api.post(
            BASE, {"url": receiver.url(), "events": ["*"]}, content_type="application/json"
        ).json()
    receiver.secrets.append(body["secret"])
    with run_tasks():
        rotated = api.post(f"{BASE}/{body['id']}/rotate_secret")
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != body["secret"]
    receiver.secrets.append(new_secret)
    with run_tasks():
        tested = api.post(f"{BASE}/{body['id']}/test")
    assert tested.status_code == 202
    [arrival] = receiver.verified()
    assert arrival.type == "webhook.test" and len(arrival.verified_by) == 2
    receiver.status = 500
    with run_tasks():
        for i in range(3):
            event_record(project=tenancy.project, type="connection.deleted", data={"n": i})
    page = api.get(f"{BASE}/{body['id']}/deliveries?limit=2").json()
    assert set(page) == {"items", "next"} and len(page["items"]) == 2 and page["next"]
    assert set(page["items"][0]) == {
        "id",
        "message_id",
        "event_type",
        "status",
        "attempts",
        "last_http_status",
        "next_attempt_at",
        "created_at",
    }
    rest = api.get(f"{BASE}/{body['id']}/deliveries?limit=2&cursor={page['next']}").json()
    assert len(rest["items"]) == 2 and rest["next"] is None
    ids = [d["id"] for d in page["items"] + rest["items"]]
    assert len(set(ids)) == 4
    retrying = api.get(f"{BASE}/{body['id']}/deliveries?status=retrying").json()["items"]
    assert {d["event_type"] for d in retrying} == {"connection.deleted"} and len(retrying) == 3
    assert retrying[0]["last_http_status"] == 500 and retrying[0]["next_attempt_at"]
    succeeded = api.get(f"{BASE}/{body['id']}/deliveries?status=succeeded").json()["items"]
    assert [d["event_type"] for d in succeeded] == ["webhook.test"]
    assert api.get(f"{BASE}/{body['id']}/deliveries?status=lost").status_code == 400
    assert api.get(f"{BASE}/{body['id']}/deliveries?cursor=forged").status_code == 400
    receiver.status = 200
    with run_tasks():
        retried = api.post(f"{BASE}/{body['id']}/deliveries/{retrying[0]['id']}/retry")
    assert retried.status_code == 202
    assert Delivery.objects.get(public_id=retrying[0]["id"]).status == DeliveryStatus.SUCCEEDED
    # A retry on a disabled endpoint is refused.
    api.patch(f"{BASE}/{body['id']}", {"enabled": False}, content_type="application/json")
    refused = api.post(f"{BASE}/{body['id']}/deliveries/{retrying[1]['id']}/retry")
    assert refused.status_code == 409
    assert api.post(f"{BASE}/{body['id']}/test").status_code == 409
    assert Event.objects.filter(type="webhook.test").count() == 1


def test_another_projects_ids_are_404_and_read_keys_403(
    tenancy: Tenancy, receiver: Receiver, run_tasks: Any
) -> None:
    theirs, _ = endpoint_create(
        actor=SYSTEM, project=tenancy.other_project, url=receiver.url(), events=["*"]
    )
    with run_tasks():
        event_record(project=tenancy.other_project, type="connection.created", data={})
    delivery = Delivery.objects.get()
    api = _client(tenancy)
    for method, path in [
        ("get", f"{BASE}/{theirs.public_id}"),
        ("patch", f"{BASE}/{theirs.public_id}"),
        ("delete", f"{BASE}/{theirs.public_id}"),
        ("post", f"{BASE}/{theirs.public_id}/rotate_secret"),
        ("post", f"{BASE}/{theirs.public_id}/test"),
        ("get", f"{BASE}/{theirs.public_id}/deliveries"),
        ("post", f"{BASE}/{theirs.public_id}/deliveries/{delivery.public_id}/retry"),
        ("get", f"{BASE}/not-a-uuid"),
        ("get", f"{BASE}/12"),
    ]:
        response = getattr(api, method)(path, {}, content_type="application/json")
        assert response.status_code == 404, (method, path)
    assert api.get(BASE).json() == []
    mine, _ = endpoint_create(
        actor=SYSTEM, project=tenancy.project, url=receiver.url(), events=["*"]
    )
    # The delivery of another endpoint under mine: 404 too.
    response = api.post(f"{BASE}/{mine.public_id}/deliveries/{delivery.public_id}/retry")
    assert response.status_code == 404
    reader = _client(tenancy, scope="read")
    assert reader.get(BASE).status_code == 200
    assert reader.get(f"{BASE}/{mine.public_id}/deliveries").status_code == 200
    for method, path in [
        ("post", BASE),
        ("patch", f"{BASE}/{mine.public_id}"),
        ("delete", f"{BASE}/{mine.public_id}"),
        ("post", f"{BASE}/{mine.public_id}/rotate_secret"),
        ("post", f"{BASE}/{mine.public_id}/test"),
    ]:
        response = getattr(reader, method)(path, {}, content_type="application/json")
        assert response.status_code == 403, (method, path)
    assert Client().get(BASE).status_code == 401
    theirs.refresh_from_db()
    assert theirs.enabled and WebhookEndpoint.objects.count() == 2
