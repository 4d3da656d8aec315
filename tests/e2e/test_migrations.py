"""Profile migrations in Chromium: from a breaking release's version page to a running
migration, reconnect links and notices, against the demo data."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from connections.models import Connection
from connectors.models import ConnectorVersion
from profiles.models import ConnectorProfile
from profiles.services import connector_version_push
from projects.models import Project
from projects.services import Actor
from rollouts.models import MigrationNotice, ProfileMigration
from tests.conftest import screenshot
from tests.e2e.test_dashboard import log_in
from tests.factories import connector_yaml

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SLUG = "acme-production"


def publish_auth_change(project: Project) -> ConnectorVersion:
    """A custom acme_crm line in production: 2.5.0 on API keys, then 3.0.0 on OAuth 2 with
    two new setup fields — its change report says connections must re-authenticate."""
    for number, auth in (("2.5.0", "api_key"), ("3.0.0", "oauth2")):
        connector_version_push(
            actor=Actor.system(),
            project=project,
            files=[
                (
                    "acme_crm.yaml",
                    connector_yaml(
                        key="acme_crm",
                        version=number,
                        auth_type=auth,
                        setup_fields=("client_id", "client_secret") if auth == "oauth2" else None,
                    ),
                )
            ],
            acknowledge_breaking=True,
        )
    version = ConnectorVersion.objects.get(
        project=project, connector__key="acme_crm", version="3.0.0"
    )
    assert version.reauth_required and version.published_at is not None
    return version


def test_start_a_migration_from_a_version_page_and_send_notices(
    page: Any, live_server: Any, settings: Any
) -> None:
    settings.SITE_URL = live_server.url
    call_command("seed_demo", verbosity=0)
    project = Project.objects.get(slug=SLUG)
    version = publish_auth_change(project)
    old = ConnectorProfile.objects.get(
        project=project, connector__key="acme_crm", name="production"
    )
    pending_before = Connection.objects.filter(profile=old).count()
    assert pending_before > 30
    base = live_server.url
    log_in(page, base)

    # The Migrations page starts empty and says how to begin.
    page.goto(f"{base}{reverse('migration_list', args=[SLUG])}")
    assert page.get_by_test_id("empty-state").is_visible()

    # The version page offers the migration.
    page.goto(f"{base}{reverse('version_detail', args=[SLUG, 'acme_crm', version.pk])}")
    offer = page.get_by_role("link", name="Create a profile pinned to 3.x.x and migrate")
    assert offer.is_visible()
    offer.click()
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text() == "Create a profile pinned to 3.x.x and migrate"
    assert page.locator("#start-from").input_value() == str(old.public_id)
    assert page.locator("#start-name").input_value() == "production 3.x"
    assert page.locator("#start-title").input_value() == "Reconnect to Acme CRM 3.x"
    page.fill("#start-message", "Acme CRM now signs in with OAuth. Please reconnect your account.")
    deadline = timezone.localdate() + timedelta(days=14)
    page.fill("#start-deadline", deadline.isoformat())
    # A required field left empty: the form comes back with the error, nothing created.
    page.fill("#start-setup-client_id", "acme-oauth-client")
    screenshot(page, "migration-start-form")
    page.get_by_test_id("start-submit").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_text("Client Secret is required").is_visible()
    assert not ProfileMigration.objects.exists()
    page.fill("#start-setup-client_secret", "acme-oauth-secret-0123456789")
    page.get_by_test_id("start-submit").click()
    page.wait_for_load_state("networkidle")

    migration = ProfileMigration.objects.get()
    assert migration.to_profile.pin == "3.x.x" and migration.to_profile.name == "production 3.x"
    assert page.url.endswith(reverse("migration_detail", args=[SLUG, migration.public_id]))
    assert page.get_by_test_id("migration-title").inner_text() == "Reconnect to Acme CRM 3.x"
    assert page.get_by_test_id("figure-pending").inner_text() == str(pending_before)
    assert page.get_by_test_id("figure-migrated").inner_text() == "0"

    # A reconnect link for one account, over HTMX: the row swaps in place.
    first_row = page.get_by_test_id("pending-row").first
    owner = first_row.get_attribute("data-owner")
    first_row.get_by_test_id("create-link").click()
    link = page.locator(f'tr[data-owner="{owner}"]').get_by_test_id("reconnect-link")
    link.wait_for()
    assert re.match(rf"{re.escape(base)}/connect/[\w-]+/$", link.input_value())

    # Search narrows the table (HTMX), then select three accounts and send them the email.
    page.fill("#pending-search", owner or "")
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=pending-row]').length === 1"
    )
    page.goto(page.url.split("?")[0])
    rows = page.get_by_test_id("pending-row")
    chosen = [rows.nth(i).get_attribute("data-owner") for i in range(3)]
    for i in range(3):
        rows.nth(i).get_by_role("checkbox").check()
    page.get_by_test_id("notify-selected").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_text("3 emails queued").is_visible()
    sent = MigrationNotice.objects.filter(migration=migration, notices_sent=1)
    assert sorted(sent.values_list("connection__origin_owner_id", flat=True)) == sorted(chosen)
    page.reload()
    for owner_id in chosen:
        row = page.locator(f'tr[data-owner="{owner_id}"]')
        assert "1 sent" in row.get_by_test_id("last-notice").inner_text()
        assert row.get_by_test_id("reconnect-link").input_value().startswith(f"{base}/connect/")
    assert page.get_by_test_id("progress-chart").locator("svg[role=img]").is_visible()
    screenshot(page, "migration-page")

    # The Migrations page lists it with its progress.
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Migrations").click()
    page.wait_for_load_state("networkidle")
    row = page.get_by_test_id("migration-row")
    assert row.get_by_test_id("pending-count").inner_text() == str(pending_before)
    assert "in progress" in row.get_by_test_id("migration-status").inner_text()
    screenshot(page, "migrations-page")

    # The old profile's page shows the banner.
    page.goto(f"{base}{reverse('profile_detail', args=[SLUG, old.public_id])}")
    assert (
        f"{pending_before} connections" in page.get_by_test_id("migration-out-banner").inner_text()
    )
    errors = [e for e in page.console_errors if "status of 400" not in e]  # the refused form
    assert errors == [], "no CSP violation or script error"
