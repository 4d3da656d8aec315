"""Layout and access in Chromium: axe-core on every dashboard page for the owner and a viewer
(0 critical, 0 serious), no page-level horizontal scroll at 390, 768, 1366 and 1920 px, the
navigation each role sees, the skip link and "/" to search."""

from __future__ import annotations

import json
import os
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from connections.models import Connection, Health, Status
from connections.rbac import Viewer
from connections.selectors import needs_reauth_per_day
from connections.services.pins import profile_set_pin
from connectors.models import ConnectorVersion
from profiles.models import ConnectorProfile
from profiles.services import profile_create
from projects.models import Project
from projects.services import Actor
from rollouts.models import ProfileMigration
from rollouts.services import migration_create
from tests.conftest import SCREENSHOT_DIR, screenshot
from tests.e2e.test_dashboard import log_in
from tests.factories import enter_needs_reauth

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
WIDTHS = (390, 768, 1366, 1920)
SLUG = "acme-production"


@pytest.fixture
def axe_page(browser: Any) -> Iterator[Any]:
    """A page whose context lets the vendored axe-core script in despite the CSP."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def _pages(who: str) -> list[tuple[str, str]]:
    base = f"/p/{SLUG}"
    profile = ConnectorProfile.objects.filter(project__slug=SLUG, connector__key="acme_crm").first()
    assert profile is not None
    version = ConnectorVersion.objects.filter(connector__key="acme_crm", version="2.0.0").get()
    older = ConnectorVersion.objects.filter(connector__key="acme_crm", version="1.1.0").get()
    connection = Connection.objects.filter(project__slug=SLUG).order_by("id").first()
    assert connection is not None
    pages = [
        ("overview", f"{base}/"),
        ("connectors", f"{base}/connectors/"),
        ("connector", f"{base}/connectors/acme_crm/"),
        ("version", f"{base}/connectors/acme_crm/versions/{version.pk}/"),
        ("compare", f"{base}/connectors/acme_crm/compare/?a={older.pk}&b={version.pk}"),
        ("profiles", f"{base}/profiles/"),
        ("profile", f"{base}/profiles/{profile.public_id}/"),
        ("connections", f"{base}/connections/"),
        ("settings", f"{base}/settings/"),
        ("members", f"{base}/settings/members/"),
    ]
    if who == "viewer":
        granted = Connection.objects.filter(project__slug=SLUG, grants__isnull=False).first()
        connection = granted or connection
    pages.append(("connection", f"{base}/connections/{connection.public_id}/"))
    if who == "owner":
        pages += [
            ("upload", f"{base}/connectors/upload/"),
            ("migrations", f"{base}/migrations/"),
            ("api-keys", f"{base}/settings/api-keys/"),
            ("audit", f"{base}/settings/audit/"),
            ("danger-zone", f"{base}/settings/danger-zone/"),
        ]
        migration = ProfileMigration.objects.filter(project__slug=SLUG).first()
        if migration is not None:
            pages.append(("migration", f"{base}/migrations/{migration.public_id}/"))
    return pages


def _axe(page: Any) -> list[dict[str, Any]]:
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """async () => {
          const r = await axe.run(document, {resultTypes: ["violations"]});
          return r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length,
            targets: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
        }"""
    )


def _overflow(page: Any) -> int:
    """How far the document is wider than the viewport (0: no page-level horizontal scroll)."""
    return int(
        page.evaluate(
            "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
            " - window.innerWidth"
        )
    )


def _culprits(page: Any) -> list[str]:
    """The innermost elements outside any scrolling box that reach past the window's right
    edge (named in the failure)."""
    return page.evaluate(
        """() => {
          const w = window.innerWidth;
          const scrolled = (el) => {
            for (let p = el.parentElement; p; p = p.parentElement) {
              if (["auto", "scroll", "hidden"].includes(getComputedStyle(p).overflowX)) return true;
            }
            return false;
          };
          const wide = [...document.querySelectorAll("body *")].filter(
            (el) => el.getBoundingClientRect().right > w + 1
              && (!scrolled(el) || getComputedStyle(el).position === "absolute"));
          return wide.filter((el) => !wide.some((o) => o !== el && el.contains(o)))
            .slice(0, 6).map((el) => el.tagName.toLowerCase() + "." + [...el.classList].join(".")
              + "#" + el.id + " " + Math.round(el.getBoundingClientRect().right));
        }"""
    )


def _audit(page: Any, live_url: str, who: str) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for name, path in _pages(who):
        page.set_viewport_size({"width": 1366, "height": 900})
        response = page.goto(f"{live_url}{path}")
        assert response is not None and response.status == 200, (who, name, path)
        violations = _axe(page)
        widths = {}
        culprits = {}
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            widths[width] = _overflow(page)
            if widths[width]:
                culprits[width] = _culprits(page)
        report[name] = {
            "axe": {
                impact: sum(1 for v in violations if v["impact"] == impact)
                for impact in ("critical", "serious", "moderate", "minor")
            },
            "violations": violations,
            "overflow_px": widths,
            "too_wide": culprits,
        }
    os.makedirs(SCREENSHOT_DIR, exist_ok=True)
    Path(SCREENSHOT_DIR, f"axe-{who}.json").write_text(json.dumps(report, indent=2))
    bad = {
        name: [v for v in r["violations"] if v["impact"] in ("critical", "serious")]
        for name, r in report.items()
    }
    assert {name: v for name, v in bad.items() if v} == {}
    wide = {name: r["too_wide"] for name, r in report.items() if any(r["overflow_px"].values())}
    assert wide == {}, "document wider than the viewport"
    return report


def test_every_page_passes_axe_and_fits_for_the_owner(axe_page: Any, live_server: Any) -> None:
    call_command("seed_demo", verbosity=0)
    old = ConnectorProfile.objects.get(project__slug=SLUG, connector__key="acme_crm", pin="1.x.x")
    new = profile_create(
        actor=Actor.system(), project=old.project, connector_key="acme_crm", name="v2", pin="2.x.x"
    )
    migration_create(
        actor=Actor.system(), project=old.project, from_profile=old, to_profile=new, title="To 2"
    )
    profile_set_pin(actor=Actor.system(), profile=new, pin="2.0.0")  # a pin change to list
    # The overview's needs-reauth trend: three connections today, one three days ago.
    active = Connection.objects.filter(project__slug=SLUG, status=Status.ACTIVE).order_by("id")
    for n, connection in enumerate(active[:4]):
        enter_needs_reauth(connection, days_ago=3 if n == 3 else 0)
    page = axe_page
    log_in(page, live_server.url)
    _audit(page, live_server.url, "owner")
    base = f"{live_server.url}/p/{SLUG}"
    page.set_viewport_size({"width": 1366, "height": 900})
    _overview_tells_the_truth(page, base, migration_total=old.connections.count())
    _compare_is_a_structured_diff(page, base)
    # The findings' pages, shown fixed: the top bar at 390 px, the connections table and the
    # version page at 1366 px, with the document no wider than the window.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/connections/")
    assert page.get_by_test_id("current-role").is_visible()
    page.get_by_test_id("profile-menu").get_by_role("button").first.click()
    log_out = page.get_by_role("button", name="Log out")
    log_out.wait_for()
    box = log_out.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.get_by_label("Time zone").is_visible()
    screenshot(page, "finding-07-topbar-390")
    page.keyboard.press("Escape")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{base}/connections/")
    screenshot(page, "finding-07-connections-1366")
    version = ConnectorVersion.objects.get(connector__key="acme_crm", version="2.0.0")
    page.goto(f"{base}/connectors/acme_crm/versions/{version.pk}/")
    assert _overflow(page) == 0
    screenshot(page, "finding-07-version-page-1366")
    # Skip link first in the tab order; "/" focuses the search.
    page.goto(f"{base}/connections/")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent.trim()") == (
        "Skip to main content"
    )
    assert page.get_by_role("link", name="Skip to main content").is_visible()
    screenshot(page, "finding-10-skip-link-focused")
    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("/")
    assert page.evaluate("() => document.activeElement.id") == "connection-search"
    screenshot(page, "finding-10-axe-clean-connections")
    _search_history_and_time_zone(page)


def _overview_tells_the_truth(page: Any, base: str, *, migration_total: int) -> None:
    """Finding 4: counts by status and health linking to the filtered lists, the needs-reauth
    trend, the open migration with its progress, recent publishes and pin changes, recent
    failures."""
    page.goto(f"{base}/")
    counts = page.get_by_test_id("overview-counts")
    errors = Connection.objects.filter(project__slug=SLUG, status=Status.ERROR).count()
    unhealthy = Connection.objects.filter(project__slug=SLUG, health=Health.UNHEALTHY).count()
    assert errors and unhealthy
    for testid, n in (("count-status-error", errors), ("count-health-unhealthy", unhealthy)):
        assert counts.locator("li", has=page.get_by_test_id(testid)).locator(
            "strong"
        ).inner_text() == str(n)
    trend = page.get_by_test_id("overview-reauth")
    bars = trend.locator(".daily-bar")
    # The demo's own history (seed_demo) plus the entries this test made: 3 today, 1 three
    # days ago.
    project = Project.objects.get(slug=SLUG)
    expected = [n for _day, n in needs_reauth_per_day(project, Viewer(user=None, membership=None))]
    assert len(expected) == 14 and expected[-1] >= 3 and expected[-4] >= 1
    assert [bars.nth(i).get_attribute("data-count") for i in range(bars.count())] == [
        str(n) for n in expected
    ]
    assert bars.last.locator(".daily-label").count() == 1
    migrations = page.get_by_test_id("overview-migrations")
    assert "To 2" in migrations.inner_text()
    assert f"0 of {migration_total} moved" in migrations.inner_text()
    assert migrations.get_by_test_id("progress-bar").is_visible()
    changes = page.get_by_test_id("overview-changes").inner_text()
    assert "profile.pin_changed" in changes and "connector_version.published" in changes
    failures = page.get_by_test_id("overview-failures").locator("li")
    assert failures.count() >= 1 and "Unhealthy" in failures.first.inner_text()
    screenshot(page, "finding-04-overview")
    _fits_at_390(page, "finding-04-overview-390")
    page.get_by_test_id("count-status-error").click()
    page.wait_for_load_state("networkidle")
    assert "status=error" in page.url
    assert page.get_by_test_id("connection-count").inner_text().startswith(f"{errors} ")


def _fits_at_390(page: Any, name: str) -> None:
    """No horizontal scroll at 390 px (screenshot ``name``), then back to 1366 px."""
    page.set_viewport_size({"width": 390, "height": 844})
    assert _overflow(page) == 0
    screenshot(page, name)
    page.set_viewport_size({"width": 1366, "height": 900})


def _compare_is_a_structured_diff(page: Any, base: str) -> None:
    """Finding 9: the compare page diffs by section, each row marked added, removed or
    changed with its change level; the raw JSON waits behind a toggle."""
    older = ConnectorVersion.objects.get(connector__key="acme_crm", version="1.1.0")
    newer = ConnectorVersion.objects.get(connector__key="acme_crm", version="2.0.0")
    page.goto(f"{base}/connectors/acme_crm/compare/?a={older.pk}&b={newer.pk}")
    rows = page.eval_on_selector_all(
        '[data-testid="diff-row"]',
        "rows => rows.map(r => [r.closest('section').dataset.testid, r.dataset.kind,"
        " r.dataset.level, r.querySelector('code').textContent])",
    )
    assert ["diff-section-fields", "added", "major", "authentication.configFields[region]"] in rows
    assert ["diff-section-actions", "removed", "major", "actions[list_deal_stages]"] in rows
    assert {kind for _, kind, _, _ in rows} == {"added", "removed", "changed"}
    fields = page.get_by_test_id("diff-section-fields")
    assert "major" in fields.locator("h2").inner_text()
    assert "+ added" in fields.inner_text()
    raw = page.get_by_test_id("raw-json")
    assert not raw.locator("pre").first.is_visible(), "the raw JSON is behind the toggle"
    screenshot(page, "finding-09-compare-structured-diff")
    _fits_at_390(page, "finding-09-compare-390")
    raw.locator("summary").click()
    assert raw.locator("pre").first.is_visible()
    assert '"version": "2.0.0"' in raw.locator("pre").last.inner_text()


def _search_history_and_time_zone(page: Any) -> None:
    """Finding 10: Back and Forward after an HTMX search restore the list with its query;
    times are shown in the time zone chosen in the profile menu. The search is focused."""
    target = Connection.objects.filter(project__slug=SLUG).order_by("id").first()
    assert target is not None
    rows = page.get_by_test_id("connection-row")
    every = rows.count()
    assert every > 1
    page.keyboard.type(target.origin_owner_id)
    expect(rows).to_have_count(1)
    assert f"q={target.origin_owner_id}" in page.url  # pushed by HTMX
    rows.first.get_by_role("link", name=target.name).click()
    page.wait_for_url(f"**/connections/{target.public_id}/")
    search = page.locator("#connection-search")
    page.go_back()
    expect(rows).to_have_count(1)
    assert search.input_value() == target.origin_owner_id
    page.go_back()
    expect(rows).to_have_count(every)
    assert search.input_value() == ""
    page.go_forward()
    expect(rows).to_have_count(1)
    assert search.input_value() == target.origin_owner_id
    screenshot(page, "finding-10-back-forward-keeps-the-search")
    # The user's time zone, from the profile menu, on every time shown.
    page.get_by_test_id("profile-menu").get_by_role("button").first.click()
    page.get_by_label("Time zone").fill("Asia/Tokyo")
    page.get_by_test_id("profile-menu").get_by_role("button", name="Save").click()
    page.get_by_text("Times are shown in Asia/Tokyo.").wait_for()
    expect(rows).to_have_count(1)  # back on the searched list
    target.refresh_from_db()
    assert target.health_checked_at is not None
    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")
    checked = timezone.localtime(target.health_checked_at, tokyo)
    assert rows.first.get_by_test_id("last-checked").inner_text() == checked.strftime(
        "%Y-%m-%d %H:%M JST"
    )
    created = timezone.localtime(target.created_at, tokyo)
    assert created.strftime("%Y-%m-%d %H:%M JST") in rows.first.inner_text()
    screenshot(page, "finding-10-times-in-the-users-time-zone")


def test_every_page_passes_axe_and_fits_for_a_viewer_and_each_role_navigates(
    axe_page: Any, live_server: Any
) -> None:
    call_command("seed_demo", verbosity=0)
    log_in(axe_page, live_server.url, "vera-viewer")
    _audit(axe_page, live_server.url, "viewer")
    axe_page.goto(f"{live_server.url}/p/{SLUG}/connections/")
    assert axe_page.get_by_test_id("bulk-toolbar").count() == 0
    screenshot(axe_page, "finding-05-viewer-connections-no-bulk")
    _navigation_per_role(axe_page, live_server)


NAV = {
    "demo": ("owner", True),
    "alice-admin": ("admin", True),
    "mo-member": ("member", False),
    "vera-viewer": ("viewer", False),
}


def _navigation_per_role(page: Any, live_server: Any) -> None:
    for username, (role, manages) in NAV.items():
        page.context.clear_cookies()
        log_in(page, live_server.url, username)
        page.goto(f"{live_server.url}/p/{SLUG}/")
        nav = page.get_by_role("navigation", name="Project")
        assert nav.get_by_role("link", name="Migrations").count() == (1 if manages else 0), role
        assert page.get_by_test_id("current-role").inner_text() == role
        page.goto(f"{live_server.url}/p/{SLUG}/settings/")
        assert page.get_by_role("link", name="Danger Zone").count() == (1 if manages else 0)
        assert page.get_by_role("link", name="API keys").count() == (1 if manages else 0)
        page.goto(f"{live_server.url}/p/{SLUG}/connections/")
        toolbar = page.get_by_test_id("bulk-toolbar")
        assert toolbar.count() == (0 if role == "viewer" else 1), role
        if toolbar.count():
            assert toolbar.get_by_role("button", name="Disable").is_disabled()
            page.locator("input[name=ids]").first.check()
            assert toolbar.get_by_role("button", name="Disable").is_enabled()
        if role == "member":
            profile = ConnectorProfile.objects.filter(project__slug=SLUG).first()
            assert profile is not None
            page.goto(f"{live_server.url}/p/{SLUG}/profiles/{profile.public_id}/")
            text = page.get_by_test_id("pin-editor").inner_text()
            assert "Viewers cannot" not in text and "you are a member" in text
            screenshot(page, "finding-05-member-pin-wording")
        if role == "viewer":
            screenshot(page, "finding-05-viewer-nav")
    # Support staff: the Django admin, no project pages of their own.
    page.context.clear_cookies()
    log_in(page, live_server.url, "sam-support")
    assert page.get_by_test_id("admin-link").is_visible()
    assert page.get_by_test_id("current-role").inner_text() == "support"
    assert page.get_by_role("navigation", name="Project").count() == 0
