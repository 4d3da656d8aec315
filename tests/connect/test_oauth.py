"""The hosted OAuth 2 connect flow against the sandbox OAuth server (django-oauth-toolkit,
PKCE required) served by live_server: a real authorization server on loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection as db_connection
from django.test import Client, override_settings
from django.utils import timezone

from connections.models import Connection, ConnectSession, HealthCheck, Status
from connections.services.connect import connect_session_create
from connections.services.tokens import connection_refresh_tokens
from profiles.models import ConnectorProfile
from projects.crypto import decrypt_json
from projects.models import Project
from projects.services import Actor
from sandbox.demo import seed_sandbox_oauth_profile
from tests.factories import make_profile, make_project
from tests.provider import Answer, Provider, provider_server

pytestmark = pytest.mark.django_db(transaction=True)
SYSTEM = Actor.system()


@pytest.fixture
def oauth(live_server: Any, settings: Any) -> Iterator[dict[str, Any]]:
    settings.SITE_URL = live_server.url
    project = make_project()
    profile = seed_sandbox_oauth_profile(project)
    yield {"project": project, "profile": profile, "base": live_server.url}


def new_link(project: Project, profile: ConnectorProfile, **kw: Any) -> tuple[str, str]:
    created = connect_session_create(
        actor=SYSTEM,
        project=project,
        origin_owner_id="cust-1",
        origin_owner_name="Ann",
        connector_profile_id=profile.public_id,
        **kw,
    )
    return created.token, urlsplit(created.url).path


def consent(browser: Client, path: str, *, allow: bool = True) -> str:
    """Open the link, go to the provider, answer the consent: the callback URL (path+query)."""
    page = browser.get(path)
    assert page.status_code == 200 and b"Continue to Sandbox HR" in page.content
    start = browser.get(path + "oauth/start")
    assert start.status_code == 302
    authorize = urlsplit(start["Location"])
    query = parse_qs(authorize.query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
    assert query["client_id"] == ["sandbox-demo-client"]
    assert query["redirect_uri"][0].endswith("/connect/oauth/callback")
    form = browser.get(authorize.path + "?" + authorize.query)
    assert form.status_code == 200, form.content[:500]
    data = {k: v[0] for k, v in query.items()}
    data["scope"] = " ".join(query.get("scope", [""]))
    if allow:
        data["allow"] = "Authorize"
    answer = browser.post(authorize.path, data)
    assert answer.status_code == 302, answer.content[:500]
    back = urlsplit(answer["Location"])
    return back.path + "?" + back.query


def test_full_oauth_connect_then_refresh(oauth: dict[str, Any]) -> None:
    browser = Client()
    _token, path = new_link(oauth["project"], oauth["profile"])
    callback = consent(browser, path)
    done = browser.get(callback)
    assert done.status_code == 200, done.content.decode()[:800]
    assert b"is connected" in done.content
    assert done["Referrer-Policy"] == "no-referrer"
    connection = Connection.objects.get()
    assert connection.status == Status.ACTIVE and connection.origin_owner_id == "cust-1"
    # Checked right after the connect (a task after the commit), against the sandbox API.
    check = HealthCheck.objects.get(connection=connection)
    assert connection.health_checked_at == check.checked_at and check.host
    assert connection.health == check.status != "unknown", check.detail
    tokens = decrypt_json(connection.oauth_tokens)
    assert tokens["access_token"] and tokens["refresh_token"]
    assert tokens["access_token"] not in connection.oauth_tokens
    assert ConnectSession.objects.get().used_at is not None
    # A later refresh works against the same server.
    result = connection_refresh_tokens(actor=SYSTEM, connection=connection)
    assert result.refreshed
    assert decrypt_json(result.connection.oauth_tokens)["access_token"] != tokens["access_token"]
    # The link is single use.
    again = browser.get(path)
    assert again.status_code == 410


def test_denied_consent_leaves_nothing(oauth: dict[str, Any]) -> None:
    browser = Client()
    _token, path = new_link(oauth["project"], oauth["profile"])
    callback = consent(browser, path, allow=False)
    assert "error=access_denied" in callback
    page = browser.get(callback)
    assert page.status_code == 400 and b"declined" in page.content
    assert Connection.objects.count() == 0
    assert ConnectSession.objects.get().used_at is None


def test_replayed_and_foreign_callbacks(oauth: dict[str, Any]) -> None:
    browser = Client()
    _token, path = new_link(oauth["project"], oauth["profile"])
    callback = consent(browser, path)
    other_browser = Client()
    assert other_browser.get(callback).status_code == 400  # another browser session
    assert Connection.objects.count() == 0
    assert browser.get(callback).status_code == 200
    assert browser.get(callback).status_code == 400  # replayed state / code
    assert Connection.objects.count() == 1


def test_forged_state(oauth: dict[str, Any]) -> None:
    browser = Client()
    _token, path = new_link(oauth["project"], oauth["profile"])
    callback = consent(browser, path)
    forged = callback.replace("state=", "state=x")
    page = browser.get(forged)
    assert page.status_code == 400
    assert Connection.objects.count() == 0


@pytest.mark.postgres
def test_two_simultaneous_callbacks_make_one_connection(oauth: dict[str, Any]) -> None:
    browser = Client()
    _token, path = new_link(oauth["project"], oauth["profile"])
    callback = consent(browser, path)
    cookies = browser.cookies
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def hit() -> None:
        twin = Client()
        twin.cookies = cookies
        barrier.wait()
        try:
            statuses.append(twin.get(callback).status_code)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=hit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(statuses) == [200, 400]
    assert Connection.objects.count() == 1


# --- Provider failures at the token endpoint (a loopback server playing the provider) --------


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        yield server


def started(provider: Provider) -> tuple[Client, str, str]:
    """A session whose OAuth start has run: (browser, connect path, state)."""
    profile = make_profile(
        make_project(),
        auth_type="oauth2",
        required_fields=(),
        authorization_url=provider.url + "/authorize",
        token_url=provider.url + "/token",
        setup_fields=("client_id", "client_secret"),
        setup={"client_id": "cid", "client_secret": "csecret-0123456789"},
    )
    _token, path = new_link(profile.project, profile)
    browser = Client()
    start = browser.get(path + "oauth/start")
    assert start.status_code == 302
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    return browser, path, state


TOKEN_OK = {"access_token": "at-1", "token_type": "bearer", "expires_in": 60, "refresh_token": "r"}


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (Answer(500, "<html>oops</html>"), b"HTTP 500"),
        (Answer(400, {"error": "invalid_grant"}), b"invalid_grant"),
        (Answer(200, TOKEN_OK, delay=1.5), b"in time"),
    ],
)
@override_settings(CONNECTION_HTTP_TIMEOUT=(1.0, 0.4))
def test_token_endpoint_failures_leave_nothing(
    provider: Provider, answer: Answer, message: bytes
) -> None:
    provider.routes["/token"] = answer
    browser, _path, state = started(provider)
    page = browser.get(f"/connect/oauth/callback?code=c0de&state={state}")
    assert page.status_code == 400 and message in page.content, page.content
    assert Connection.objects.count() == 0
    session = ConnectSession.objects.get()
    assert session.used_at is None  # the end user may start again from the same link
    (seen,) = provider.calls("/token")
    assert seen.form["code_verifier"] and seen.form["code"] == ["c0de"]


@override_settings(OAUTH_TOKEN_TIMEOUT=2)
def test_a_dripping_token_endpoint_is_cut_at_the_deadline(provider: Provider) -> None:
    """One byte a second never trips the read timeout; OAUTH_TOKEN_TIMEOUT ends the
    exchange (+ 1 s for the page around it), and nothing is saved."""
    provider.routes["/token"] = Answer(200, TOKEN_OK, drip="body")
    browser, _path, state = started(provider)
    began = time.monotonic()
    page = browser.get(f"/connect/oauth/callback?code=c0de&state={state}")
    assert time.monotonic() - began < 2 + 1
    assert page.status_code == 400 and b"in time" in page.content, page.content
    assert Connection.objects.count() == 0


@pytest.mark.parametrize("kind", ["expired", "used"])
def test_callback_for_an_expired_or_used_session(provider: Provider, kind: str) -> None:
    provider.routes["/token"] = Answer(200, TOKEN_OK)
    browser, _path, state = started(provider)
    if kind == "expired":
        ConnectSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    else:
        ConnectSession.objects.update(used_at=timezone.now())
    page = browser.get(f"/connect/oauth/callback?code=c0de&state={state}")
    assert page.status_code == 400
    assert Connection.objects.count() == 0
    assert provider.calls("/token") == []  # refused before any exchange


def test_issuer_mismatch_is_refused(provider: Provider) -> None:
    provider.routes["/token"] = Answer(200, TOKEN_OK)
    browser, _path, state = started(provider)
    page = browser.get(f"/connect/oauth/callback?code=c0de&state={state}&iss=https://evil.example")
    assert page.status_code == 400 and b"issuer" in page.content
    assert Connection.objects.count() == 0


def test_callback_pages_send_security_headers(provider: Provider) -> None:
    browser, _path, _state = started(provider)
    page = browser.get("/connect/oauth/callback?state=nope&code=x")
    assert page.status_code == 400
    assert page["Referrer-Policy"] == "no-referrer"
    assert page["Cache-Control"] == "no-store"
    csp = page["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'none'" in csp
    assert page["X-Frame-Options"] == "DENY"
