"""API-key authentication and the error body of docs/api.md."""

from __future__ import annotations

import base64
import logging

import pytest
from django.db import connection as db
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from projects.services import Actor, api_key_revoke
from tests.conftest import Tenancy
from tests.factories import make_api_key

URL = "/api/v1/project"


def basic(key: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{key}:{password}".encode()).decode()


def assert_error_body(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["fields"], list)
    return body


@pytest.fixture
def key(tenancy: Tenancy) -> str:
    return make_api_key(tenancy.project)[1]


def test_bearer(client: Client, tenancy: Tenancy, key: str) -> None:
    response = client.get(URL, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    assert response.json()["slug"] == tenancy.project.slug


def test_basic_with_key_as_user_name(client: Client, tenancy: Tenancy, key: str) -> None:
    response = client.get(URL, headers={"Authorization": basic(key)})
    assert response.status_code == 200
    assert response.json()["slug"] == tenancy.project.slug
    assert response.json()["organization"] == tenancy.organization.slug


def test_key_sees_only_its_own_project(client: Client, tenancy: Tenancy) -> None:
    other_key = make_api_key(tenancy.other_project)[1]
    response = client.get(URL, headers={"Authorization": f"Bearer {other_key}"})
    assert response.json()["slug"] == tenancy.other_project.slug


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer ",
        "Bearer chk_deadbeef_not-a-real-key",
        "Bearer not-even-our-format",
        "Basic !!!not-base64!!!",
        "Token abc",
    ],
)
def test_missing_or_wrong_key_is_401(client: Client, tenancy: Tenancy, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    body = assert_error_body(client.get(URL, headers=headers), 401, "unauthorized")
    assert "key" in body["message"].lower()


def test_right_prefix_wrong_secret_is_401(client: Client, key: str) -> None:
    forged = key[:-4] + ("aaaa" if not key.endswith("aaaa") else "bbbb")
    assert_error_body(
        client.get(URL, headers={"Authorization": f"Bearer {forged}"}), 401, "unauthorized"
    )


def test_revoked_key_is_401(client: Client, tenancy: Tenancy) -> None:
    api_key, raw = make_api_key(tenancy.project)
    assert client.get(URL, headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    api_key_revoke(actor=Actor.system(), api_key=api_key)
    assert_error_body(
        client.get(URL, headers={"Authorization": f"Bearer {raw}"}), 401, "unauthorized"
    )
    assert_error_body(client.get(URL, headers={"Authorization": basic(raw)}), 401, "unauthorized")


def test_session_login_does_not_authenticate_the_api(tenancy: Tenancy) -> None:
    assert_error_body(tenancy.client("owner").get(URL), 401, "unauthorized")


def test_last_used_is_recorded(client: Client, tenancy: Tenancy) -> None:
    api_key, raw = make_api_key(tenancy.project)
    assert api_key.last_used_at is None
    client.get(URL, headers={"Authorization": f"Bearer {raw}"})
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None


def test_key_is_stored_hashed(tenancy: Tenancy) -> None:
    api_key, raw = make_api_key(tenancy.project)
    secret_part = raw.split("_", 2)[2]
    assert raw.startswith(api_key.prefix + "_")
    assert secret_part not in api_key.key_hash and raw != api_key.key_hash
    assert len(api_key.key_hash) == 64


def test_unknown_path_and_wrong_method_use_the_error_body(client: Client, key: str) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    assert_error_body(client.get("/api/v1/no-such-thing", headers=auth), 404, "not_found")
    response = client.delete(URL, headers=auth)
    assert_error_body(response, 405, "method_not_allowed")


def test_openapi_document(client: Client) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["info"]["title"] == "Connector Hub API"
    assert "/api/v1/project" in doc["paths"]
    schemes = doc["components"]["securitySchemes"]
    assert {s["scheme"] for s in schemes.values()} == {"bearer", "basic"}


def test_keys_never_reach_the_logs(
    client: Client, tenancy: Tenancy, caplog: pytest.LogCaptureFixture, settings
) -> None:
    settings.DEBUG = True  # ninja's own auth classes log the header when DEBUG is on
    raw = make_api_key(tenancy.project)[1]
    with caplog.at_level(logging.DEBUG):
        client.get(URL, headers={"Authorization": f"Bearer {raw}"})
        client.get(URL, headers={"Authorization": basic(raw)})
        client.get(URL, headers={"Authorization": f"Token {raw}"})
        client.get(URL, headers={"Authorization": f"Bearer {raw}x"})
    assert raw not in caplog.text


@pytest.mark.parametrize(
    "header",
    [
        "Basic Y2hrX2FiAGNkX3h5ejo=",  # "chk_ab\0cd_xyz:" (issue 28, finding 6)
        basic("chk_ab\x00cd_xyz"),
        basic("chk_ab\x07cd_xyz"),
        basic("chk_abé_xyz"),
    ],
)
def test_a_key_with_a_nul_or_a_control_character_is_401_not_500(
    client: Client, tenancy: Tenancy, header: str
) -> None:
    # PostgreSQL refuses a NUL in a text parameter (DataError, a 500): such a key never
    # reaches the database.
    with CaptureQueriesContext(db) as queries:
        response = client.get(URL, headers={"Authorization": header})
    assert_error_body(response, 401, "unauthorized")
    assert not [q for q in queries if "apikey" in q["sql"].lower().replace("_", "")]


@override_settings(THROTTLE_API_KEY_RATE="5/m")
def test_wrong_keys_are_throttled_per_address_with_retry_after(tenancy: Tenancy) -> None:
    raw = make_api_key(tenancy.project)[1]
    guesser = Client(REMOTE_ADDR="203.0.113.28")
    for n in range(5):
        wrong = {"Authorization": f"Bearer chk_deadbeef_guess-{n}"}
        assert_error_body(guesser.get(URL, headers=wrong), 401, "unauthorized")
    response = guesser.get(URL, headers={"Authorization": basic("chk_deadbeef_guess-6")})
    body = assert_error_body(response, 429, "rate_limited")
    assert response["Retry-After"] == "60" and "60 seconds" in body["message"]
    # Locked out like the login: the right key from that address waits too ...
    response = guesser.get(URL, headers={"Authorization": f"Bearer {raw}"})
    assert_error_body(response, 429, "rate_limited")
    assert raw not in response.content.decode()
    # ... while another address is unaffected.
    other = Client(REMOTE_ADDR="198.51.100.28")
    assert other.get(URL, headers={"Authorization": f"Bearer {raw}"}).status_code == 200


@override_settings(THROTTLE_API_KEY_RATE="3/m")
def test_right_keys_are_not_counted(tenancy: Tenancy) -> None:
    raw = make_api_key(tenancy.project)[1]
    caller = Client(REMOTE_ADDR="203.0.113.29")
    for _ in range(10):
        assert caller.get(URL, headers={"Authorization": f"Bearer {raw}"}).status_code == 200


def test_the_openapi_document_declares_429() -> None:
    doc = Client().get("/api/v1/openapi.json").json()
    for operations in doc["paths"].values():
        for operation in operations.values():
            assert "429" in operation["responses"], operation["operationId"]
