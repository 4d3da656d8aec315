"""Settings → Webhooks: every page and action × every kind of user (owner, admin write;
member and viewer 403, reading too; a stranger 404; anonymous to the login page; a wrong method 405),
the secret shown once, the delivery log with "retry now", query counts that do not grow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from events.models import Delivery, DeliveryStatus, Event, WebhookEndpoint
from events.services import endpoint_create, event_record
from projects.models import AuditEntry
from projects.services import Actor
from tests.conftest import WHO, Tenancy
from tests.events.receiver import Receiver

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
RANK = {"viewer": 1, "member": 2, "admin": 3, "owner": 4}
MANAGE = 3


@dataclass(frozen=True)
class Page:
    name: str
    method: str
    need: int
    data: tuple[tuple[str, str], ...] = ()
    delivery: bool = False


PAGES = [
    # Reading too: owners and admins only (issue 30: a member read other people's
    # connections in delivery payloads).
    Page("settings_webhooks", "get", MANAGE),
    Page("webhook_detail", "get", MANAGE),
    Page("settings_webhooks", "post", MANAGE, (("url", "{url}"), ("events", "*"))),
    Page("webhook_detail", "post", MANAGE, (("url", "{url}"), ("events", "connection.created"))),
    Page("webhook_toggle", "post", MANAGE, (("enabled", "false"),)),
    Page("webhook_rotate", "post", MANAGE),
    Page("webhook_test", "post", MANAGE),
    Page("webhook_delete", "post", MANAGE),
    Page("webhook_delivery_retry", "post", MANAGE, delivery=True),
]


@pytest.fixture
def objects(
    tenancy: Tenancy, endpoint: WebhookEndpoint, receiver: Receiver, run_tasks: Any
) -> dict[str, Any]:
    receiver.status = 500
    with run_tasks():
        event_record(project=tenancy.project, type="connection.created", data={"n": 1})
    return {"endpoint": endpoint, "delivery": Delivery.objects.get(), "url": receiver.url()}


def _url(t: Tenancy, page: Page, objects: dict[str, Any]) -> str:
    if page.name == "settings_webhooks":
        return reverse(page.name, args=[t.project.slug])
    args = [t.project.slug, objects["endpoint"].public_id]
    if page.delivery:
        args.append(objects["delivery"].public_id)
    return reverse(page.name, args=args)


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("page", PAGES, ids=lambda p: f"{p.method}-{p.name}")
def test_permission_matrix(tenancy: Tenancy, objects: dict[str, Any], who: str, page: Page) -> None:
    url = _url(tenancy, page, objects)
    data = {k: v.format(**objects) for k, v in page.data}
    client = tenancy.client(who)
    response = getattr(client, page.method)(url, data)
    audits = AuditEntry.objects.filter(target_type="webhookendpoint").count()
    if who == "anonymous":
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    elif who == "stranger":
        assert response.status_code == 404
    elif RANK[who] < page.need:
        assert response.status_code == 403
    else:
        assert response.status_code in (200, 302), response.content[:400]
        if page.method == "post":
            assert audits >= 2  # created by the fixture, then this change
    refused = who in ("anonymous", "stranger") or (who in RANK and RANK[who] < page.need)
    if refused and page.method == "post":
        assert audits == 1  # only the fixture's creation
        assert WebhookEndpoint.objects.filter(enabled=True).count() == 1
    wrong = "delete" if page.method == "post" else "put"
    if who == "owner":
        assert getattr(client, wrong)(url).status_code == 405


def test_create_shows_the_secret_once_plain_and_htmx(tenancy: Tenancy, receiver: Receiver) -> None:
    client = tenancy.client("admin")
    url = reverse("settings_webhooks", args=[tenancy.project.slug])
    for htmx in (False, True):
        headers = {"HX-Request": "true"} if htmx else {}
        response = client.post(
            url,
            {"url": receiver.url(), "events": ["connection.created", "connection.deleted"]},
            headers=headers,
        )
        assert response.status_code == 200
        html = response.content.decode()
        assert 'data-testid="new-secret"' in html and "whsec_" in html
        assert ("<html" in html) is not htmx
        assert "no-store" in response["Cache-Control"]
    listed = client.get(url).content.decode()
    assert "whsec_" not in listed and listed.count("connection.created, connection.deleted") == 2
    assert WebhookEndpoint.objects.count() == 2


def test_bad_input_is_400_and_changes_nothing(tenancy: Tenancy) -> None:
    client = tenancy.client("owner")
    url = reverse("settings_webhooks", args=[tenancy.project.slug])
    for data in [
        {"url": "", "events": ["*"]},
        {"url": "https://hooks.example.com/\x00", "events": ["*"]},
        {"url": "https://hooks.example.com/", "events": ["nope"]},
        {"url": "https://hooks.example.com/", "events": ["*"], "description": "x" * 201},
    ]:
        response = client.post(url, data)
        assert response.status_code == 400
        assert b"whsec_" not in response.content
    assert not WebhookEndpoint.objects.exists()


def test_detail_shows_the_log_with_payload_and_retry_now(
    tenancy: Tenancy, objects: dict[str, Any], receiver: Receiver, run_tasks: Any
) -> None:
    endpoint = objects["endpoint"]
    client = tenancy.client("owner")
    url = reverse("webhook_detail", args=[tenancy.project.slug, endpoint.public_id])
    html = client.get(url).content.decode()
    assert 'data-testid="delivery-row"' in html and "retrying" in html
    assert "&quot;type&quot;:&quot;connection.created&quot;" in html  # the payload, escaped
    assert "Retry now" in html and ">500<" in html
    assert "Retry now" not in tenancy.client("viewer").get(url).content.decode()
    receiver.status = 200
    delivery = objects["delivery"]
    with run_tasks():
        response = client.post(
            reverse(
                "webhook_delivery_retry",
                args=[tenancy.project.slug, endpoint.public_id, delivery.public_id],
            )
        )
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    filtered = client.get(url + "?status=failed", headers={"HX-Request": "true"})
    assert filtered.status_code == 200 and b"No deliveries match" in filtered.content
    assert b"<html" not in filtered.content


def test_deliveries_filter_by_event_type_status_and_connection(
    tenancy: Tenancy, objects: dict[str, Any], receiver: Receiver, run_tasks: Any
) -> None:
    """Issue 30: the deliveries list drowned in refresh_failed events with no way to pick."""
    endpoint = objects["endpoint"]
    mine, other = "6f1c2d3e-0000-4000-8000-000000000001", "6f1c2d3e-0000-4000-8000-000000000002"
    with run_tasks():
        for connection_id in (mine, mine, other):
            event_record(
                project=tenancy.project,
                type="connection.refresh_failed",
                data={"connection_id": connection_id},
            )
    client = tenancy.client("admin")
    url = reverse("webhook_detail", args=[tenancy.project.slug, endpoint.public_id])

    def rows(query: str) -> int:
        response = client.get(url + query, headers={"HX-Request": "true"})
        assert response.status_code == 200, response.content
        return response.content.decode().count('data-testid="delivery-row"')

    assert rows("") == 4
    assert rows("?event_type=connection.refresh_failed") == 3
    assert rows("?event_type=connection.created") == 1
    assert rows(f"?connection={mine}") == 2
    assert rows(f"?event_type=connection.refresh_failed&connection={other}&status=retrying") == 1
    assert rows("?status=succeeded") == 0
    page = client.get(url).content.decode()
    assert 'data-testid="delivery-filters"' in page and "Event type" in page
    bad = client.get(url + "?connection=not-a-uuid")
    assert bad.status_code == 400 and b'data-testid="filter-error"' in bad.content


def test_rotate_shows_the_new_secret_once(tenancy: Tenancy, objects: dict[str, Any]) -> None:
    endpoint = objects["endpoint"]
    client = tenancy.client("owner")
    response = client.post(
        reverse("webhook_rotate", args=[tenancy.project.slug, endpoint.public_id])
    )
    assert response.status_code == 200 and b'data-testid="new-secret"' in response.content
    assert b"whsec_" in response.content and "no-store" in response["Cache-Control"]
    again = client.get(reverse("webhook_detail", args=[tenancy.project.slug, endpoint.public_id]))
    assert b"whsec_" not in again.content


def test_overview_counts_failed_deliveries(tenancy: Tenancy, objects: dict[str, Any]) -> None:
    Delivery.objects.update(status=DeliveryStatus.FAILED)
    home = reverse("project_home", args=[tenancy.project.slug])
    html = tenancy.client("admin").get(home).content.decode()
    assert 'data-testid="webhooks-overview"' in html
    assert '<span class="badge text-bg-danger" data-testid="failed-deliveries">1</span>' in html
    # Members and viewers may not open the webhook settings: no panel, no tab leading there.
    for who in ("member", "viewer"):
        html = tenancy.client(who).get(home).content.decode()
        assert 'data-testid="webhooks-overview"' not in html, who
        settings_page = reverse("settings_members", args=[tenancy.project.slug])
        tabs = tenancy.client(who).get(settings_page).content.decode()
        assert reverse("settings_webhooks", args=[tenancy.project.slug]) not in tabs, who


def test_query_counts_do_not_grow_with_deliveries(
    tenancy: Tenancy, objects: dict[str, Any], run_tasks: Any
) -> None:
    endpoint = objects["endpoint"]
    client = tenancy.client("owner")
    pages = [
        reverse("settings_webhooks", args=[tenancy.project.slug]),
        reverse("webhook_detail", args=[tenancy.project.slug, endpoint.public_id]),
        reverse("project_home", args=[tenancy.project.slug]),
    ]

    def counts() -> list[int]:
        found = []
        for url in pages:
            with CaptureQueriesContext(db_connection) as queries:
                assert client.get(url).status_code == 200
            found.append(len(queries))
        return found

    counts()  # the first visits write the session
    before = counts()
    with run_tasks():
        for i in range(30):
            event_record(project=tenancy.project, type="connection.deleted", data={"n": i})
    endpoint_create(actor=SYSTEM, project=tenancy.project, url=objects["url"], events=["*"])
    assert Event.objects.count() == 31
    assert counts() == before
