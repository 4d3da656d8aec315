"""The dashboard in headless Chromium (Debian's), driven by Playwright against live_server."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from ops.management.commands.seed_demo import DEMO_PASSWORD
from projects.models import ApiKey, Membership
from tests.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page: Any, base: str, username: str = "demo") -> None:
    page.goto(f"{base}/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_demo_login_sees_the_dashboard(page: Any, live_server: Any) -> None:
    call_command("seed_demo", verbosity=0)
    log_in(page, live_server.url)
    assert page.get_by_test_id("current-user").inner_text() == "demo"
    assert page.get_by_test_id("getting-started").is_visible()
    for entry in ["Connectors", "Profiles", "Connections", "Migrations", "Settings"]:
        page.get_by_role("navigation", name="Project").get_by_role("link", name=entry).click()
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").first.is_visible()
        assert "error" not in page.title().lower()
    screenshot(page, "dashboard-settings")
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Overview").click()
    screenshot(page, "dashboard-home")
    # The switcher lists both demo projects.
    page.get_by_test_id("project-switcher").get_by_role("button").click()
    page.get_by_role("link", name="Staging").click()
    page.wait_for_load_state("networkidle")
    assert "/p/acme-staging/" in page.url
    assert page.console_errors == [], "no CSP violation or script error"


def test_htmx_api_key_and_role_change(page: Any, live_server: Any) -> None:
    call_command("seed_demo", verbosity=0)
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/p/acme-production/settings/api-keys/")
    page.fill("#id_name", "browser CI")
    page.get_by_role("button", name="Create API key").click()
    key = page.locator("#new-api-key").inner_text()
    assert key.startswith(ApiKey.objects.get(name="browser CI").prefix + "_")
    assert "/settings/api-keys/" in page.url  # swapped in place by HTMX, no navigation
    screenshot(page, "api-key-created")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("row", name="browser CI").get_by_role("button", name="Revoke").click()
    page.get_by_role("row", name="browser CI").get_by_text("revoked").wait_for()
    assert ApiKey.objects.get(name="browser CI").revoked_at is not None

    page.goto(f"{live_server.url}/p/acme-production/settings/members/")
    page.get_by_label("Role of mo-member").select_option("viewer")
    page.get_by_text("mo-member is now viewer").wait_for()
    assert Membership.objects.get(user__username="mo-member").role == "viewer"
    assert page.console_errors == []


def test_viewer_has_no_settings_tabs_for_keys(page: Any, live_server: Any) -> None:
    call_command("seed_demo", verbosity=0)
    log_in(page, live_server.url, "vera-viewer")
    page.goto(f"{live_server.url}/p/acme-production/settings/")
    assert page.get_by_role("link", name="API keys").count() == 0
    response = page.goto(f"{live_server.url}/p/acme-production/settings/api-keys/")
    assert response is not None and response.status == 403
    assert page.get_by_text("does not allow this action").is_visible()
    assert page.get_by_role("navigation", name="Project").is_visible(), "403 keeps the project nav"


def test_form_errors_are_swapped_in_place_in_debug(
    page: Any, live_server: Any, settings: Any
) -> None:
    """make run serves with DEBUG on, where django-htmx's script replaces the page on a 400."""
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/p/acme-production/settings/members/")
    page.fill("#id_email", "mo-member@example.com")  # already a member
    page.get_by_role("button", name="Add member").click()
    page.locator("#members-panel").get_by_text("is already a member").wait_for()
    assert page.get_by_role("navigation", name="Project").is_visible(), "the page was not replaced"
    screenshot(page, "members-error-in-place")
