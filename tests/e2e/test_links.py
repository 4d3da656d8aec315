"""Link account in Chromium, as a new user would: from the demo's sandbox_crm profile page,
create a link (HTMX panel, Copy button), open it in a private window, connect with an API key,
then find the new connection in the dashboard and request its re-authentication."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.core.management import call_command
from playwright.sync_api import expect

from connections.models import Connection, ConnectSession
from ops.management.commands.seed_demo import DEMO_PASSWORD
from profiles.models import ConnectorProfile
from tests.conftest import SCREENSHOT_DIR, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SANDBOX_KEY = "demo_live_0123456789"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()  # resolutions and adoption counts are cached by row id
    yield
    cache.clear()


def log_in(page: Any, base: str, username: str = "demo") -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.get_by_test_id("current-user").inner_text() == username


def test_link_account_then_connect_in_a_private_window(
    page: Any, browser: Any, live_server: Any, settings: Any
) -> None:
    settings.SITE_URL = live_server.url  # the sandbox connector's health check calls this server
    call_command("seed_demo", verbosity=0)
    base = live_server.url
    profile = ConnectorProfile.objects.get(
        project__slug="acme-production", connector__key="sandbox_crm"
    )
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    log_in(page, base)
    profile_url = f"{base}/p/acme-production/profiles/{profile.public_id}/"
    page.goto(profile_url)

    # Create the link: the form swaps itself for the result (HTMX), the page stays.
    panel = page.get_by_test_id("link-panel")
    expect(panel.get_by_role("heading", name="Link account")).to_be_visible()
    panel.screenshot(path=f"{SCREENSHOT_DIR}/link-account-form.png")
    panel.get_by_label("End user id").fill("cust-e2e-501")
    panel.get_by_label("Name").fill("Erin Example")
    panel.get_by_label("Email").fill("erin@example.test")
    panel.get_by_label("Valid for").select_option(label="1 day")
    panel.get_by_test_id("link-submit").click()
    url_input = page.get_by_test_id("link-url")
    expect(url_input).to_be_visible()
    assert page.url == profile_url
    link = url_input.input_value()
    assert link.startswith(f"{base}/connect/")
    expect(page.get_by_test_id("link-expiry")).to_contain_text("Shown only once")
    expect(page.get_by_test_id("link-expiry")).to_contain_text("in 23 hours")

    page.get_by_test_id("link-copy").click()
    expect(page.get_by_test_id("link-copy")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == link
    panel.screenshot(path=f"{SCREENSHOT_DIR}/link-account-panel.png")
    screenshot(page, "link-account-profile-page")
    session = ConnectSession.objects.get(origin_owner_id="cust-e2e-501")
    assert session.profile_id == profile.pk and session.token_hash not in link

    # The end user: a private window without the dashboard session.
    private = browser.new_context()
    end_user = private.new_page()
    try:
        end_user.goto(link)
        expect(end_user.get_by_role("heading", name="Connect Sandbox CRM")).to_be_visible()
        end_user.get_by_label("API key").fill(SANDBOX_KEY)
        end_user.get_by_test_id("connect-submit").click()
        expect(end_user.get_by_test_id("connect-done")).to_be_visible()
        expect(end_user.get_by_role("heading", name="Sandbox CRM is connected")).to_be_visible()
    finally:
        private.close()

    # Back in the dashboard: the new connection is in the list.
    page.goto(f"{base}/p/acme-production/connections/?q=cust-e2e-501")
    row = page.locator('[data-testid=connection-row][data-owner="cust-e2e-501"]')
    expect(row).to_be_visible()
    expect(row).to_contain_text("Erin Example")
    connection = Connection.objects.get(origin_owner_id="cust-e2e-501")
    assert connection.profile_id == profile.pk and connection.health == "healthy"

    # Its page offers re-authentication; the overview then shows the (unused) link.
    row.get_by_role("link", name="Erin Example").click()
    reauth = page.get_by_test_id("link-panel")
    expect(reauth.get_by_role("heading", name="Request re-authentication")).to_be_visible()
    reauth.get_by_test_id("link-submit").click()
    expect(page.get_by_test_id("link-url")).to_be_visible()
    assert page.get_by_test_id("link-url").input_value().startswith(f"{base}/connect/")
    expect(page.get_by_test_id("link-result")).to_contain_text("Send this link to Erin Example")
    screenshot(page, "link-reauth-panel")
    page.reload()
    expect(page.get_by_test_id("reauth-latest")).to_contain_text("unused")
    page.get_by_test_id("overview-card").screenshot(
        path=f"{SCREENSHOT_DIR}/link-reauth-overview.png"
    )
    assert ConnectSession.objects.get(account=connection).profile_id == profile.pk

    # The connector page: the same form with a select of the connector's profiles.
    page.goto(f"{base}/p/acme-production/connectors/sandbox_crm/")
    select = page.get_by_test_id("link-panel").get_by_label("Profile")
    expect(select).to_have_value(str(profile.public_id))
    page.get_by_test_id("link-panel").screenshot(path=f"{SCREENSHOT_DIR}/link-connector-form.png")
    assert page.console_errors == []
