"""Hosted connect pages end to end in Chromium: the API creates a session, the end user opens
the link in a fresh browser context (a private window), grants consent on the sandbox OAuth
server (django-oauth-toolkit, PKCE) and lands on the success page; an API-key connector too."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client

from connections.models import Connection, Health, Status
from connections.services.tokens import connection_refresh_tokens
from projects.crypto import decrypt_json
from projects.models import Role
from projects.services import Actor
from sandbox.demo import seed_sandbox_oauth_profile, seed_sandbox_profile
from tests.conftest import screenshot
from tests.e2e.test_connections import log_in
from tests.factories import make_api_key, make_member, make_project

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def create_link(project: Any, body: dict[str, Any]) -> dict[str, Any]:
    _key, raw = make_api_key(project)
    response = Client().post(
        "/api/v1/connect_sessions",
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_oauth_connect_through_the_sandbox(browser: Any, live_server: Any, settings: Any) -> None:
    settings.SITE_URL = live_server.url
    project = make_project()
    profile = seed_sandbox_oauth_profile(project)
    link = create_link(
        project,
        {"origin_owner_id": "cust-9", "origin_owner_name": "Noor", "connector_key": "sandbox_hr"},
    )
    assert link["url"].startswith(live_server.url + "/connect/")
    context = browser.new_context()  # like a private window: no dashboard session
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(link["url"])
        assert page.get_by_role("heading", name="Connect Sandbox HR").is_visible()
        screenshot(page, "connect-oauth-start")
        page.get_by_test_id("oauth-start").click()
        page.wait_for_url("**/sandbox/oauth/authorize/**")
        assert page.get_by_text("Read your contacts").is_visible()
        screenshot(page, "connect-oauth-consent")
        page.get_by_test_id("consent-allow").click()
        page.get_by_test_id("connect-done").wait_for()
        assert "/connect/oauth/callback" in page.url
        assert page.get_by_role("heading", name="Sandbox HR is connected").is_visible()
        screenshot(page, "connect-oauth-done")
        assert errors == []
    finally:
        context.close()
    connection = Connection.objects.get(profile=profile)
    assert connection.status == Status.ACTIVE and connection.origin_owner_name == "Noor"
    # Health checked right after the connect, not left "Not checked" (finding 8): as the
    # project's owner sees it on the connection page, with the check in the timeline.
    assert connection.health == Health.HEALTHY and connection.health_checked_at is not None
    make_member(project.organization, Role.OWNER, username="olga-owner")
    dashboard = browser.new_context()
    page = dashboard.new_page()
    try:
        log_in(page, live_server.url, "olga-owner")
        page.goto(f"{live_server.url}/p/{project.slug}/connections/{connection.public_id}/")
        assert page.get_by_test_id("health-badge").inner_text() == "Healthy"
        checks = page.get_by_test_id("timeline").locator('[data-kind="health-healthy"]')
        assert checks.count() == 1
        assert page.get_by_test_id("timeline").get_by_text("Connected", exact=True).count() == 1
        screenshot(page, "finding-08-health-checked-after-oauth-connect")
    finally:
        dashboard.close()
    tokens = decrypt_json(connection.oauth_tokens)
    assert tokens["access_token"] not in connection.oauth_tokens  # encrypted at rest
    assert tokens["expires_at"] > time.time()
    # A later refresh works against the same server.
    result = connection_refresh_tokens(actor=Actor.system(), connection=connection)
    assert result.refreshed
    fresh = decrypt_json(result.connection.oauth_tokens)
    assert fresh["access_token"] != tokens["access_token"]
    from connections.services.health import connection_check_health

    assert connection_check_health(actor=Actor.system(), connection=connection).status == "healthy"


def test_api_key_connect_in_the_browser(browser: Any, live_server: Any, settings: Any) -> None:
    settings.SITE_URL = live_server.url
    project = make_project()
    profile = seed_sandbox_profile(project)
    link = create_link(
        project,
        {
            "origin_owner_id": "cust-3",
            "origin_owner_name": "Lee",
            "connector_profile_id": str(profile.public_id),
        },
    )
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(link["url"])
        page.get_by_label("API key").fill("wrong-key-123456")
        page.get_by_test_id("connect-submit").click()
        assert "rejected these credentials" in page.get_by_test_id("connect-error").inner_text()
        screenshot(page, "connect-api-key-rejected")
        assert Connection.objects.count() == 0
        page.get_by_label("API key").fill("demo_live_0123456789")
        page.get_by_test_id("connect-submit").click()
        page.get_by_test_id("connect-done").wait_for()
        screenshot(page, "connect-api-key-done")
        page.goto(link["url"])
        assert page.get_by_test_id("connect-problem").get_attribute("data-kind") == "used"
    finally:
        context.close()
    connection = Connection.objects.get()
    assert connection.health == Health.HEALTHY
    assert decrypt_json(connection.config_secrets) == {"api_key": "demo_live_0123456789"}
