"""The demo, as a new user would try it: the sandbox provider served by this very server, a
seeded Sandbox HR account running list_employees, a 1.1.0 with a changed mapping answering
the next request, both calls in the request log; Sandbox CRM's offset pages, custom errors,
resources and errors on demand."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from connections.models import Connection
from core.outbound import close_session
from projects.models import Project
from tests.factories import make_api_key

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _close_keep_alive() -> Iterator[None]:
    # The runtime keeps provider connections alive; the live server's handler threads (and
    # their database connections) end only when those close.
    yield
    close_session()


def demo(live_server: Any, settings: Any) -> tuple[Project, Client]:
    settings.SITE_URL = live_server.url
    call_command("seed_demo", stdout=io.StringIO())
    project = Project.objects.get(slug="acme-production")
    return project, Client(headers={"Authorization": f"Bearer {make_api_key(project)[1]}"})


def run(client: Client, connection: Connection, action_id: str, **inputs: Any) -> Any:
    return client.post(
        f"/api/v1/connections/{connection.public_id}/actions/{action_id}",
        {"inputs": inputs},
        content_type="application/json",
    )


def test_a_new_mapping_in_1_1_0_answers_the_next_request(live_server: Any, settings: Any) -> None:
    project, client = demo(live_server, settings)
    account = Connection.objects.get(project=project, origin_owner_id="demo-sandbox-hr-1")
    first = run(client, account, "list_employees")
    assert first.status_code == 200, first.content
    body = first.json()
    assert body["version"] == "1.0.0"
    assert len(body["data"]) == 120  # three cursor pages of 50
    ada = body["data"][0]
    assert ada["name"] == "Given0 Family0"
    assert ada["employment_status"] == {"value": "active", "source_value": "Active"}
    assert ada["work"] == {"department": "Engineering", "manager_id": None}
    assert "salary" not in ada  # hidden
    assert ada["start_date"].startswith("2020-01-01")
    call_command("demo_mapping_release", stdout=io.StringIO())
    second = run(client, account, "list_employees", page_size=100).json()
    assert second["version"] == "1.1.0"
    assert second["data"][0]["name"] == "Family0, Given0"
    log = client.get(f"/api/v1/connections/{account.public_id}/requests").json()["items"]
    assert [i["version"] for i in log] == ["1.1.0", "1.0.0"]


def test_sandbox_crm_offsets_errors_and_resources(live_server: Any, settings: Any) -> None:
    project, client = demo(live_server, settings)
    works = Connection.objects.get(project=project, origin_owner_id="demo-sandbox-1")
    page = run(client, works, "list_contacts", limit=50).json()
    assert len(page["data"]) == 50 and page["next"] == 50
    assert page["data"][0]["stage"] == {"value": "prospect", "source_value": "lead"}
    assert page["data"][0]["custom_fields"] == {"vip": True}
    last = run(client, works, "list_contacts", offset=200, limit=50).json()
    assert (len(last["data"]), last["next"]) == (30, None)
    missing = run(client, works, "get_contact", id="9999")
    assert (missing.status_code, missing.json()["message"]) == (
        404,
        "No contact 9999 in the sandbox CRM.",
    )
    boom = run(client, works, "list_contacts", simulate="500")
    assert (boom.status_code, boom.json()["provider_status"]) == (502, 500)
    overview = run(client, works, "account_overview").json()["data"]
    assert overview["name"] == "Sandbox account" and overview["total"] == 230
    base = f"/api/v1/connections/{works.public_id}/resources"
    roots = client.get(base + "/children").json()["items"]
    assert [r["id"] for r in roots] == ["folder_0", "folder_1", "folder_2"]
    files = client.get(base + "/children", {"resource_id": "folder_1"}).json()["items"]
    assert files[0] == {
        "id": "file_1_0",
        "name": "Report 1-0.pdf",
        "type": "file",
        "parent_id": "folder_1",
    }
    assert (
        client.get(base, {"resource_ids": ["file_2_3"]}).json()["items"][0]["parent_id"]
        == "folder_2"
    )
    found = client.get(base + "/search", {"query": "report 0-"}).json()["items"]
    assert len(found) == 4
    revoked = Connection.objects.get(project=project, origin_owner_id="demo-sandbox-2")
    refused = run(client, revoked, "list_contacts")
    assert (refused.status_code, refused.json()["code"]) == (409, "needs_reauth")
    assert Connection.objects.get(pk=revoked.pk).status == "needs_reauth"
