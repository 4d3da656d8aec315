"""Operating a fleet in Chromium: the migration that makes the new profile the default, the
migration page following the sending, select all matching as a background task, the CSV
export of the filtered list and the connection's timeline."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.core.management import call_command

from connections.models import BulkRun, Connection, HealthCheck, Status
from connections.services.connections import connection_set_status
from connectors.models import ConnectorVersion
from profiles.models import ConnectorProfile
from projects.services import Actor
from rollouts.models import NoticeRun, ProfileMigration
from rollouts.tasks import send_migration_notices
from tests.conftest import screenshot
from tests.e2e.test_dashboard import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SLUG = "acme-production"


def test_migration_default_polling_select_all_csv_and_timeline(page: Any, live_server: Any) -> None:
    call_command("seed_demo", verbosity=0)
    log_in(page, live_server.url)
    old = ConnectorProfile.objects.get(project__slug=SLUG, connector__key="acme_crm", pin="1.x.x")
    ConnectorProfile.objects.filter(pk=old.pk).update(is_default=True)
    version = ConnectorVersion.objects.get(connector__key="acme_crm", version="2.0.0")
    page.goto(
        f"{live_server.url}/p/{SLUG}/migrations/start/acme_crm/{version.pk}/"
        f"?from_profile={old.public_id}"
    )
    box = page.get_by_label("Make the new profile the default for acme_crm")
    assert box.is_checked()
    screenshot(page, "finding-02-migration-makes-new-profile-default")
    page.get_by_test_id("start-submit").click()
    page.get_by_test_id("migration-title").wait_for()
    migration = ProfileMigration.objects.get(from_profile=old)
    new = ConnectorProfile.objects.get(pk=migration.to_profile_id)
    old.refresh_from_db()
    assert new.is_default and not old.is_default
    # A sending in progress: the pending section follows the worker by itself, then stops.
    # The worker's batches run here (the real task, by hand): the rows on the page first.
    pending = migration.from_profile.connections.count()
    run = NoticeRun.objects.create(migration=migration, queued=pending)
    page.reload()
    page.get_by_test_id("notice-run").get_by_text(f"0 of {pending}").wait_for()
    assert page.get_by_test_id("pending-card").get_attribute("data-polling") == "1"
    shown = page.get_by_test_id("pending-card").locator("input[name=ids]")
    first = [shown.nth(i).get_attribute("value") for i in range(shown.count())]
    ids = list(migration.from_profile.connections.values_list("public_id", "pk"))
    batch = [pk for public_id, pk in ids if str(public_id) in first]
    rest = [pk for _, pk in ids if pk not in batch]
    assert batch and rest
    send_migration_notices.call(migration.pk, batch, "test", run.pk)
    progress = f"{len(batch)} of {pending} accounts done · {len(batch)} sent"
    page.get_by_test_id("notice-run").get_by_text(progress).wait_for()
    notices = page.get_by_test_id("last-notice")
    assert notices.count() == len(batch)
    assert all(" sent" in t and "never" not in t for t in notices.all_inner_texts())
    screenshot(page, "finding-03-migration-page-follows-the-sending")
    send_migration_notices.call(migration.pk, rest, "test", run.pk)
    done = page.locator('[data-testid="notice-run"][data-state="done"]')
    done.wait_for()
    assert page.get_by_test_id("pending-card").get_attribute("data-polling") is None
    assert page.console_errors == []
    _select_all_matching_csv_and_timeline(page, live_server)


def _select_all_matching_csv_and_timeline(page: Any, live_server: Any) -> None:
    base = f"{live_server.url}/p/{SLUG}"
    page.goto(f"{base}/connections/?status=error&per_page=10")
    matching = Connection.objects.filter(project__slug=SLUG, status=Status.ERROR).count()
    assert matching > 10, "the demo has more errors than one page"
    offer = page.get_by_test_id("select-matching")
    assert offer.is_hidden()
    page.locator("#select-all").check()
    offer.wait_for()
    offer.get_by_label(f"Select all {matching} matching", exact=False).check()
    screenshot(page, "finding-07-select-all-matching")
    errored = list(
        Connection.objects.filter(project__slug=SLUG, status=Status.ERROR).values_list("pk")
    )
    page.get_by_role("button", name="Disable").click()
    page.locator('[data-testid="bulk-run"][data-state="done"]').wait_for()
    summary = page.get_by_test_id("bulk-run-summary").inner_text()
    assert f"Disabled {matching} connections" in summary
    assert BulkRun.objects.get().done == matching
    assert not Connection.objects.filter(project__slug=SLUG, status=Status.ERROR).exists()
    # The CSV export of a filtered list, as downloaded.
    page.goto(f"{base}/connections/?status=disabled")
    with page.expect_download() as download:
        page.get_by_test_id("export-csv").click()
    with open(download.value.path(), encoding="utf-8") as exported:
        rows = list(csv.reader(io.StringIO(exported.read())))
    disabled = Connection.objects.filter(project__slug=SLUG, status=Status.DISABLED).count()
    assert rows[0][0] == "connection_id" and len(rows) == disabled + 1
    assert {r[6] for r in rows[1:]} == {"disabled"}
    # The timeline of one of them: its health checks and the status change just made. A
    # disabled connection is never checked (issue 30): no button until it is enabled again.
    connection = Connection.objects.get(pk=errored[0][0])
    page.goto(f"{base}/connections/{connection.public_id}/")
    assert page.get_by_test_id("health-not-checked").is_visible()
    assert page.get_by_role("button", name="Check now").count() == 0
    connection_set_status(actor=Actor.system(), connection=connection, status=Status.ACTIVE)
    page.reload()
    page.get_by_role("button", name="Check now").click()
    page.wait_for_load_state("networkidle")
    page.reload()
    timeline = page.get_by_test_id("timeline")
    assert timeline.locator('[data-kind^="health-"]').count() >= 1
    check = HealthCheck.objects.filter(connection=connection).latest("id")
    assert check.host and check.host in timeline.inner_text(), "the host called is shown"
    disabled = timeline.locator('[data-kind="audit"]', has_text="status: error → status: disabled")
    assert "status: error → status: disabled" in disabled.inner_text()
    screenshot(page, "finding-08-connection-timeline")
