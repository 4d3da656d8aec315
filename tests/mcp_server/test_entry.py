"""Where a request enters /mcp, before the SDK reads it (Django's test client is enough: no
protocol is spoken): keys and headers refused with a clear status, wrong keys throttled per
address as on the JSON API (the same counter), nothing read past a refusal."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client, override_settings

from tests.conftest import Tenancy
from tests.factories import make_api_key, make_connection, make_profile

pytestmark = pytest.mark.django_db

LIST = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}})
HEADERS = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}


def _post(client: Client, **headers: str) -> tuple[int, dict[str, str], Any]:
    response = client.post(
        "/mcp", LIST, content_type="application/json", headers={**HEADERS, **headers}
    )
    return response.status_code, dict(response.headers), response.json()


def test_headers_are_checked_once_with_a_clear_status(tenancy: Tenancy) -> None:
    raw = make_api_key(tenancy.project, scope="agent")[1]
    connection = make_connection(make_profile(tenancy.project))
    client = Client()
    bearer = f"Bearer {raw}"
    status, headers, body = _post(client)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert _post(client, Authorization=bearer)[0] == 400  # neither header
    both = {"Connection-Id": str(connection.public_id), "Origin-Owner-Id": "x"}
    assert _post(client, Authorization=bearer, **both)[0] == 400
    status, _, body = _post(client, Authorization=bearer, **{"Connection-Id": "not-a-uuid"})
    assert status == 400 and "UUID" in body["error"]["message"]
    status, _, body = _post(client, Authorization=bearer, **{"Origin-Owner-Id": "a\x1bb"})
    assert status == 400 and "control" in body["error"]["message"]
    status, _, body = _post(client, Authorization=bearer, **{"Origin-Owner-Id": "nobody"})
    assert status == 404
    status, _, body = _post(
        client, Authorization=bearer, **{"Connection-Id": str(connection.public_id)}
    )
    assert status == 200 and [t["name"] for t in body["result"]["tools"]] == [
        "acme_crm__list_contacts"
    ]
    reader = make_api_key(tenancy.project, "reader", scope="read")[1]
    assert (
        _post(
            client, Authorization=f"Bearer {reader}", **{"Connection-Id": str(connection.public_id)}
        )[0]
        == 403
    )


@override_settings(THROTTLE_API_KEY_RATE="3/m")
def test_wrong_keys_are_throttled_per_address_with_the_apis_counter(tenancy: Tenancy) -> None:
    raw = make_api_key(tenancy.project, scope="agent")[1]
    connection = make_connection(make_profile(tenancy.project))
    scope = {"Connection-Id": str(connection.public_id)}
    guesser = Client(REMOTE_ADDR="203.0.113.33")
    for n in range(3):
        assert _post(guesser, Authorization=f"Bearer chk_deadbeef_guess-{n}", **scope)[0] == 401
    assert _post(guesser, Authorization="Bearer chk_deadbeef_guess-4", **scope)[0] == 429
    # Locked out: the right key from that address waits too.
    status, headers, body = _post(guesser, Authorization=f"Bearer {raw}", **scope)
    assert status == 429 and headers["Retry-After"] == "60"
    assert raw not in json.dumps(body)
    # The JSON API counts the same failures for that address.
    api = guesser.get("/api/v1/connections", headers={"Authorization": f"Bearer {raw}"})
    assert api.status_code == 429
    assert (
        _post(Client(REMOTE_ADDR="198.51.100.33"), Authorization=f"Bearer {raw}", **scope)[0] == 200
    )
