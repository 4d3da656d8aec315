"""Upload → preview → publish, a refused republish, and the Danger Zone toggle, in Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from connectors.models import ConnectorVersion
from projects.models import AuditEntry, Project
from tests.conftest import screenshot
from tests.e2e.test_dashboard import log_in
from tests.factories import connector_yaml

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_upload_publish_and_danger_zone(page: Any, live_server: Any, tmp_path: Path) -> None:
    call_command("seed_demo", verbosity=0)
    log_in(page, live_server.url)
    base = f"{live_server.url}/p/acme-staging"
    definition = tmp_path / "my_crm.yaml"
    definition.write_bytes(connector_yaml(key="my_crm", title="My CRM", version="1.0.0"))

    page.goto(f"{base}/connectors/upload/")
    page.set_input_files("#id_files", str(definition))
    preview = page.get_by_test_id("preview")
    preview.get_by_text("My CRM").wait_for()  # the HTMX preview, before anything is stored
    assert "initial" in preview.inner_text()
    assert not ConnectorVersion.objects.filter(connector__key="my_crm").exists()
    screenshot(page, "upload-preview")
    page.get_by_role("button", name="Publish", exact=True).click()
    page.wait_for_load_state("networkidle")
    assert "/connectors/my_crm/versions/" in page.url
    assert page.get_by_test_id("auth-summary").is_visible()
    screenshot(page, "version-page")

    # The same number again is refused while immutable versioning is on.
    page.goto(f"{base}/connectors/upload/")
    page.set_input_files("#id_files", str(definition))
    page.get_by_test_id("conflict").wait_for()
    page.get_by_role("button", name="Publish", exact=True).click()
    page.get_by_text("immutable versioning is on").first.wait_for()
    # Said once, by the refusal: no second (yellow) box repeating the conflict.
    assert page.locator("main").inner_text().count("immutable versioning is on") == 1
    assert page.get_by_test_id("conflict").count() == 0
    screenshot(page, "finding-06-upload-conflict-once")

    # Danger Zone: a wrong confirmation changes nothing; the slug turns immutability off.
    page.goto(f"{base}/settings/danger-zone/")
    page.fill("#id_confirmation", "wrong")
    page.get_by_role("button", name="Turn immutable versioning off").click()
    page.locator(".invalid-feedback").get_by_text("to confirm").wait_for()  # swapped in by HTMX
    assert Project.objects.get(slug="acme-staging").immutable_versioning
    page.fill("#id_confirmation", "acme-staging")
    page.get_by_role("button", name="Turn immutable versioning off").click()
    page.get_by_test_id("immutability-state").get_by_text("off").wait_for()
    assert not Project.objects.get(slug="acme-staging").immutable_versioning
    screenshot(page, "danger-zone")

    # Now a forced republish overwrites in place.
    definition.write_bytes(
        connector_yaml(key="my_crm", title="My CRM", version="1.0.0", description="Fixed.")
    )
    page.goto(f"{base}/connectors/upload/")
    page.get_by_test_id("immutability-banner").wait_for()
    page.set_input_files("#id_files", str(definition))
    page.get_by_label("Overwrite the published version 1.0.0 (force)").check()
    page.get_by_role("button", name="Publish", exact=True).click()
    page.get_by_text("my_crm 1.0.0 overwritten").wait_for()
    version = ConnectorVersion.objects.get(connector__key="my_crm")
    assert version.definition["info"]["description"] == "Fixed."
    actions = set(
        AuditEntry.objects.filter(project__slug="acme-staging").values_list("action", flat=True)
    )
    assert {
        "connector_version.published",
        "project.immutable_versioning_changed",
        "connector_version.overwritten",
    } <= actions
    # Chrome logs every 4xx answer; the refused republish (409) and the wrong confirmation
    # (422, swapped in by HTMX) are expected. Anything else (CSP, script errors) is not.
    expected = ("status of 409 (Conflict)", "status of 422 (Unprocessable Content)")
    assert [e for e in page.console_errors if not e.endswith(expected)] == []
