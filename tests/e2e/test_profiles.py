"""The pin editor in Chromium: type a pin, see the live preview, save, see the list change."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from connections.models import Connection
from profiles.models import ConnectorProfile
from projects.models import AuditEntry
from tests.conftest import screenshot
from tests.e2e.test_dashboard import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_pin_editor(page: Any, live_server: Any) -> None:
    call_command("seed_demo", verbosity=0)
    log_in(page, live_server.url)
    base = f"{live_server.url}/p/acme-production"
    page.goto(f"{base}/profiles/")
    row = page.get_by_test_id("profile-production").filter(has_text="Acme CRM")
    assert "1.x.x" in row.inner_text() and "1.1.0" in row.get_by_test_id("resolved").inner_text()
    row.get_by_role("link", name="production").click()

    profile_url = page.url
    pin_input = page.locator("#pin-input")
    pin_input.fill("^1.2.0")
    page.get_by_test_id("pin-preview").get_by_text("npm-style range").wait_for()
    # Saved anyway: the message once, in the pin editor (not in an alert and again in the
    # preview).
    page.get_by_role("button", name="Save pin").click()
    error = page.get_by_test_id("pin-error")
    error.wait_for()
    assert "npm-style range" in error.inner_text()
    assert page.locator("main").inner_text().count(error.inner_text()) == 1
    assert page.get_by_test_id("pin-preview").inner_text().strip() == ""
    screenshot(page, "finding-06-pin-error-once")
    pin_input.fill("2.x.x")
    change = page.get_by_test_id("pin-change")
    change.wait_for()
    assert "1.1.0 → 2.0.0" in change.inner_text() and "re-authenticate" in change.inner_text()
    screenshot(page, "pin-editor-preview")
    assert (
        ConnectorProfile.objects.get(project__slug="acme-production", connector__key="acme_crm").pin
        == "1.x.x"
    )

    acme = ConnectorProfile.objects.get(project__slug="acme-production", connector__key="acme_crm")
    on_profile = Connection.objects.filter(profile=acme).count()
    assert on_profile > 0
    # A major with an auth change: a confirmation step, which states what will happen.
    page.get_by_role("button", name="Save pin").click()
    confirm = page.get_by_test_id("pin-confirm")
    confirm.wait_for()
    assert "1.1.0 → 2.0.0" in confirm.inner_text() and "major" in confirm.inner_text()
    assert f"{on_profile} connections must re-authenticate" in confirm.inner_text()
    assert page.get_by_test_id("pin-confirm-migration").is_visible(), "the migration is offered"
    screenshot(page, "finding-01-pin-change-confirmation")
    page.get_by_test_id("pin-confirm-cancel").click()
    page.wait_for_load_state("networkidle")
    acme.refresh_from_db()
    assert acme.pin == "1.x.x" and "1.1.0" in page.get_by_test_id("resolution").inner_text()
    # Reset to default lands on 2.0.0 too: asked again; this time confirmed.
    page.get_by_role("button", name="Reset to default").click()
    page.get_by_test_id("pin-confirm").wait_for()
    page.get_by_test_id("pin-confirm-button").click()
    page.wait_for_load_state("networkidle")
    assert "2.0.0" in page.get_by_test_id("resolution").inner_text()
    entry = AuditEntry.objects.filter(action="profile.pin_removed").latest("id")
    assert entry.after is not None and entry.after["connections_moved"] == on_profile
    page.goto(f"{base}/settings/audit/?action=profile.pin_removed")
    row = page.get_by_test_id("audit-table").locator("tbody tr").first
    assert f"connections_moved: {on_profile}" in row.inner_text()
    screenshot(page, "finding-01-audit-counts-moved-connections")
    page.goto(profile_url)
    page.locator("#pin-input").fill("2.x.x")
    page.get_by_role("button", name="Save pin").click()
    page.wait_for_load_state("networkidle")
    assert "2.0.0" in page.get_by_test_id("resolution").inner_text()
    page.goto(f"{base}/profiles/")
    row = page.get_by_test_id("profile-production").filter(has_text="Acme CRM")
    assert "2.x.x" in row.inner_text() and "2.0.0" in row.get_by_test_id("resolved").inner_text()
    screenshot(page, "profiles-list")
    assert AuditEntry.objects.filter(
        action="profile.pin_changed", project__slug="acme-production"
    ).exists()
    # Chrome logs every 4xx answer: the refused pin (400) is expected, nothing else.
    assert [e for e in page.console_errors if not e.endswith("status of 400 (Bad Request)")] == []
