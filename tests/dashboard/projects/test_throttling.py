"""Login lockout (django-axes, counted in the database), and the rate limits of the password
reset form and the hosted connect page's POSTs (core/throttle.py)."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

from connections.models import Connection
from connections.services.connect import connect_session_create
from projects.services import Actor
from tests.factories import PASSWORD, make_profile, make_project, make_user

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"
LOCKOUT = "Too many failed login attempts"


def login(username: str, password: str, ip: str = "203.0.113.9") -> tuple[int, str, Client]:
    client = Client(REMOTE_ADDR=ip)
    response = client.post(LOGIN, {"username": username, "password": password})
    return response.status_code, response.content.decode(), client


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@override_settings(AXES_FAILURE_LIMIT=5)
def test_six_wrong_passwords_then_the_right_one_is_refused() -> None:
    make_user("alice")
    make_user("bob")
    for _ in range(6):
        status, _page, _client = login("alice", "wrong-guess")
    assert status == 429
    client = Client(REMOTE_ADDR="203.0.113.9")
    response = client.post(LOGIN, {"username": "alice", "password": PASSWORD})
    page = response.content.decode()
    assert response.status_code == 429 and LOCKOUT in page and "15 minutes" in page
    assert response["Retry-After"] == "900" and "no-store" in response["Cache-Control"]
    assert not logged_in(client)
    # The same user from another address, and another user from the same address: unaffected.
    status, _page, client = login("alice", PASSWORD, ip="198.51.100.20")
    assert status == 302 and logged_in(client)
    status, _page, client = login("bob", PASSWORD)
    assert status == 302 and logged_in(client)


@override_settings(AXES_FAILURE_LIMIT=5)
def test_a_few_failures_then_success_do_not_lock_out() -> None:
    make_user("alice")
    for _ in range(4):
        assert login("alice", "wrong-guess")[0] == 200
    status, _page, client = login("alice", PASSWORD)
    assert status == 302 and logged_in(client)


@override_settings(AXES_FAILURE_LIMIT=5)
def test_an_admin_lifts_the_lockout_with_the_reset_command() -> None:
    make_user("alice")
    for _ in range(5):
        login("alice", "wrong-guess")
    assert login("alice", PASSWORD)[0] == 429
    call_command("axes_reset_username", "alice", stdout=io.StringIO())
    status, _page, client = login("alice", PASSWORD)
    assert status == 302 and logged_in(client)


@override_settings(THROTTLE_PASSWORD_RESET_RATE="3/m")
def test_password_reset_is_rate_limited_per_address(mailoutbox: list) -> None:
    make_user("alice")
    client = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(3):
        response = client.post("/accounts/password_reset/", {"email": "alice@example.com"})
        assert response.status_code == 302
    response = client.post("/accounts/password_reset/", {"email": "alice@example.com"})
    assert response.status_code == 429 and response["Retry-After"] == "60"
    assert "Too many reset requests" in response.content.decode()
    assert len(mailoutbox) == 3
    other = Client(REMOTE_ADDR="198.51.100.20")
    assert other.post("/accounts/password_reset/", {"email": "x@example.com"}).status_code == 302
    assert client.get("/accounts/password_reset/").status_code == 200, "the form still shows"


@override_settings(THROTTLE_CONNECT_RATE="3/m")
def test_hosted_connect_posts_are_rate_limited_per_token_and_address() -> None:
    profile = make_profile(make_project())
    created = connect_session_create(
        actor=Actor.system(),
        project=profile.project,
        connector_profile_id=profile.public_id,
        origin_owner_id="cust-1",
    )
    path = urlsplit(created.url).path
    client = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(3):
        assert client.post(path, {}).status_code == 400  # the required key is missing
    response = client.post(path, {"config_api_key": "sk_live_abcdefghijkl"})
    assert response.status_code == 429 and response["Retry-After"] == "60"
    page = response.content.decode()
    assert "Too many attempts" in page and created.token not in page
    assert response["Cache-Control"].count("no-store") == 1
    assert not Connection.objects.exists()
    # Another address with the same link is not limited by the first one's attempts.
    other = Client(REMOTE_ADDR="198.51.100.20")
    assert other.post(path, {}).status_code == 400
