"""Connections in Chromium: a member without grants sees nothing, gets a connection through a
team grant made in the Access tab, a viewer sees no edit controls, and "Check now" turns the
health badge healthy against a real HTTP server on loopback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from connections.models import Connection, ConnectionGrant, GrantRole, Health, SubjectType
from profiles.services import connector_version_push
from projects.models import Role
from projects.services import Actor
from tests.conftest import screenshot
from tests.factories import (
    PASSWORD,
    connector_yaml,
    make_connection,
    make_member,
    make_organization,
    make_profile,
    make_project,
    make_team,
)
from tests.provider import Answer, Provider, provider_server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SECRET = "sk_live_browser_secret_987654321"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    # Adoption counts and resolutions are cached by row id, and ids repeat across tests.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        server.routes["/me"] = Answer(200)
        yield server


def log_in(page: Any, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.get_by_test_id("current-user").inner_text() == username


def test_team_grant_viewer_and_check_now(page: Any, live_server: Any, provider: Provider) -> None:
    organization = make_organization("acme")
    project = make_project(organization, "acme-production")
    make_member(organization, Role.OWNER, username="olga-owner")
    member = make_member(organization, Role.MEMBER, username="mo-member")
    viewer = make_member(organization, Role.VIEWER, username="vera-viewer")
    make_team(organization, "Support", member)
    profile = make_profile(project, base_url=provider.url, health_path="/me")
    connection = make_connection(
        profile, "cust-1042", config={"api_key": SECRET}, name="Globex Corp", email="it@globex.test"
    )
    for n in range(4):
        make_connection(profile, f"cust-{2000 + n}", name=f"Customer {n}")
    ConnectionGrant.objects.create(
        connection=connection, subject_type=SubjectType.USER, user=viewer, role=GrantRole.EDITOR
    )
    base = live_server.url
    list_url = f"{base}/p/{project.slug}/connections/"

    # A member with no grant sees no connection at all.
    log_in(page, base, "mo-member")
    page.goto(list_url)
    page.get_by_text("No connections shared with you").wait_for()
    assert page.get_by_test_id("connection-row").count() == 0
    screenshot(page, "connections-empty-member")

    # The owner shares the connection with the member's team through the Access tab.
    log_in(page, base, "olga-owner")
    page.goto(list_url)
    assert page.get_by_test_id("connection-row").count() == 5
    screenshot(page, "connections-list")
    page.fill("#connection-search", "globex")
    expect(page.get_by_test_id("connection-row")).to_have_count(1)
    assert "q=globex" in page.url  # hx-push-url keeps the filter in the address
    page.get_by_role("link", name="Globex Corp").click()
    page.wait_for_load_state("networkidle")
    assert SECRET not in page.content()
    assert SECRET[-4:] in page.get_by_test_id("credentials-card").inner_text()
    screenshot(page, "connection-detail")
    page.get_by_test_id("access-tab").click()
    page.get_by_test_id("grants-table").wait_for()
    assert "?tab=access" in page.url
    page.select_option("#grant-subject", label="Support (team)")
    page.select_option("#grant-role", "editor")
    page.get_by_role("button", name="Add access").click()
    page.get_by_text("Support is now editor of Globex Corp").wait_for()
    assert page.get_by_label("Role of Support").input_value() == "editor"
    screenshot(page, "connection-access")
    assert ConnectionGrant.objects.filter(
        connection=connection, team__name="Support", role="editor"
    ).exists()

    # The member now sees it, and as an editor of it may check its health.
    log_in(page, base, "mo-member")
    page.goto(list_url)
    rows = page.get_by_test_id("connection-row")
    rows.first.wait_for()
    assert rows.count() == 1 and "Globex Corp" in rows.first.inner_text()
    rows.first.get_by_role("link", name="Globex Corp").click()
    page.wait_for_load_state("networkidle")
    badge = page.get_by_test_id("health-badge")
    assert badge.inner_text() == "Not checked"
    page.get_by_role("button", name="Check now").click()
    page.get_by_test_id("health-result").wait_for()
    assert page.get_by_test_id("health-badge").inner_text() == "Healthy"
    assert "/health/" not in page.url  # swapped in place, no navigation
    screenshot(page, "connection-check-now")
    assert len(provider.calls("/me")) == 1
    connection.refresh_from_db()
    assert connection.health == Health.HEALTHY

    # An organization viewer with an editor grant still only reads.
    log_in(page, base, "vera-viewer")
    page.goto(f"{base}/p/{project.slug}/connections/{connection.public_id}/")
    assert "read only" in page.get_by_test_id("your-role").inner_text()
    assert page.get_by_role("button", name="Check now").count() == 0
    assert page.get_by_test_id("manage-card").count() == 0
    page.get_by_test_id("access-tab").click()
    page.get_by_test_id("access-read-only").wait_for()
    assert page.get_by_role("button", name="Remove").count() == 0
    screenshot(page, "connection-viewer")

    # The version adoption chart on the connector page.
    log_in(page, base, "olga-owner")
    page.goto(f"{base}/p/{project.slug}/connectors/acme_crm/")
    chart = page.get_by_role("img", name="Version adoption of Acme CRM")
    chart.wait_for()
    assert "5 · 100%" in (chart.text_content() or "")
    screenshot(page, "connector-adoption")
    assert page.console_errors == [], "no CSP violation or script error"
    assert Connection.objects.count() == 5


def test_bulk_disable_and_delete_in_the_browser(page: Any, live_server: Any) -> None:
    organization = make_organization("acme")
    project = make_project(organization, "acme-production")
    make_member(organization, Role.OWNER, username="olga-owner")
    profile = make_profile(project)
    for n in range(3):
        make_connection(profile, f"cust-{n}", name=f"Customer {n}")
    log_in(page, live_server.url, "olga-owner")
    page.goto(f"{live_server.url}/p/{project.slug}/connections/")
    page.get_by_label("Select all on this page").check()
    assert page.locator("input[name=ids]:checked").count() == 3
    page.get_by_label("Select Customer 0").uncheck()
    assert page.get_by_label("Select all on this page").is_checked() is False
    page.get_by_role("button", name="Disable").click()
    page.get_by_text("Disabled 2 connections.").wait_for()
    assert Connection.objects.filter(status="disabled").count() == 2
    page.select_option("#filter-status", "disabled")  # HTMX refreshes the table on change
    expect(page.get_by_test_id("connection-row")).to_have_count(2)
    assert "status=disabled" in page.url
    page.get_by_role("link", name="Reset").click()
    expect(page.get_by_test_id("connection-row")).to_have_count(3)
    page.get_by_label("Select Customer 0").check()
    page.get_by_role("button", name="Delete…").click()
    page.get_by_test_id("bulk-delete-confirm").wait_for()
    screenshot(page, "connections-bulk-delete")
    page.get_by_role("button", name="Delete 1 connection").click()
    page.get_by_text("Deleted 1 connection.").wait_for()
    assert Connection.objects.count() == 2

    # A newer version: every connection resolves to it now (the chart), two last served by
    # the older one (the labelled second figure).
    connector_version_push(
        actor=Actor.system(),
        project=project,
        files=[("c.yaml", connector_yaml(version="1.1.0", actions=("list_contacts", "x")))],
        acknowledge_breaking=True,
    )
    for n in range(3):
        make_connection(profile, f"new-{n}", name=f"Newer {n}")
    cache.clear()
    page.goto(f"{live_server.url}/p/{project.slug}/profiles/{profile.public_id}/")
    chart = page.get_by_role("img", name="Version adoption of production")
    text = chart.text_content() or ""
    assert "5 · 100%" in text
    last_served = page.get_by_test_id("adoption-last-served").inner_text()
    assert "Last served" in last_served and "1.1.0: 3" in last_served and "1.0.0: 2" in last_served
    screenshot(page, "profile-adoption")
    page.get_by_test_id("profile-connections-link").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_test_id("connection-row").count() == 5
    assert page.console_errors == []


def test_column_headers_sort_and_page_in_the_browser(
    page: Any, live_server: Any, settings: Any
) -> None:
    settings.CONNECTIONS_PER_PAGE_CHOICES = (2, 25)
    organization = make_organization("acme")
    project = make_project(organization, "acme-production")
    make_member(organization, Role.OWNER, username="olga-owner")
    profile = make_profile(project)
    used = {"cust-b": 3, "cust-d": None, "cust-a": 1, "cust-c": 2, "cust-e": None}
    start = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    for owner, hours in used.items():
        c = make_connection(profile, owner, name=f"Customer {owner[-1].upper()}")
        at = None if hours is None else start + timedelta(hours=hours)
        Connection.objects.filter(pk=c.pk).update(last_used_at=at)
    log_in(page, live_server.url, "olga-owner")
    page.goto(f"{live_server.url}/p/{project.slug}/connections/?per_page=2")
    rows = page.get_by_test_id("connection-row")

    def owners() -> list[str]:
        return [rows.nth(i).get_attribute("data-owner") or "" for i in range(rows.count())]

    def header(name: str) -> Any:
        return page.locator("th.sortable-header", has=page.get_by_test_id(name))

    expect(header("sort-created")).to_have_attribute("aria-sort", "descending")
    page.get_by_test_id("sort-name").click()  # over HTMX: the table only
    expect(header("sort-name")).to_have_attribute("aria-sort", "ascending")
    assert owners() == ["cust-a", "cust-b"] and "sort=name" in page.url
    page.get_by_test_id("sort-created").click()
    expect(header("sort-created")).to_have_attribute("aria-sort", "descending")
    expect(header("sort-name")).not_to_have_attribute("aria-sort", "ascending")
    # Last used: newest first, "never" last, paged forward and back by the keyset cursor.
    page.get_by_test_id("sort-used").click()
    expect(header("sort-used")).to_have_attribute("aria-sort", "descending")
    expect(page.get_by_test_id("sort-used")).to_have_text("Last used ▼")
    assert "sort=last_used_at" in page.url and "dir=desc" in page.url
    seen = owners()
    for _ in range(2):
        page.get_by_role("link", name="Next →").click()
        expect(rows.first).not_to_have_attribute("data-owner", seen[-2])
        seen += owners()
    assert seen[:3] == ["cust-b", "cust-c", "cust-a"] and sorted(seen[3:]) == ["cust-d", "cust-e"]
    page.get_by_role("link", name="← Previous").click()
    expect(rows.first).to_have_attribute("data-owner", seen[2])
    assert owners() == seen[2:4]
    page.get_by_test_id("sort-used").click()  # turned round: "never" first
    expect(header("sort-used")).to_have_attribute("aria-sort", "ascending")
    assert owners() == list(reversed(seen))[:2]
    # The sort bar follows the headers: a filter changed next keeps the sort.
    # (app.js sets them once the swapped table settles: expect waits for it)
    expect(page.get_by_label("Sort by")).to_have_value("last_used_at")
    expect(page.get_by_label("Order")).to_have_value("asc")
    page.select_option("#filter-status", "active")
    expect(page).to_have_url(re.compile(r"status=active"))
    assert "sort=last_used_at" in page.url and "dir=asc" in page.url
    assert owners() == list(reversed(seen))[:2]
    assert page.console_errors == []
