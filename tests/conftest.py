from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from core import baked
from projects.models import Organization, Project, Role

from .factories import make_member, make_organization, make_project, make_user

IN_CI = os.environ.get("CI", "").lower() == "true"
# Every baked query (core.baked) is compared with the ORM's compilation of the same call.
baked.VERIFY = True


# --- Under CI=true a skipped test is a failed test -------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which counts as a failure: {report.longrepr}"


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://...")


# --- Isolation ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Every test starts with an empty cache: ids are reused between tests on SQLite, so a
    cached figure of one test's row must never answer for another's."""
    from django.core.cache import cache

    from core import freshness

    cache.clear()
    freshness.local_clear()
    yield


# --- Tenancy fixtures -------------------------------------------------------------------------


@dataclass
class Tenancy:
    """One organization with a project and a user per role, plus a stranger elsewhere."""

    organization: Organization
    project: Project
    users: dict[str, Any]
    other_project: Project

    def client(self, who: str) -> Client:
        client = Client()
        if who != "anonymous":
            client.force_login(self.users[who])
        return client


ROLES = ["owner", "admin", "member", "viewer"]
WHO = [*ROLES, "stranger", "anonymous"]


@pytest.fixture
def tenancy(db: None) -> Tenancy:
    organization = make_organization("acme")
    project = make_project(organization, "acme-prod")
    users = {role: make_member(organization, Role(role), username=role) for role in ROLES}
    other_org = make_organization("globex")
    other_project = make_project(other_org, "globex-prod")
    users["stranger"] = make_member(other_org, Role.OWNER, username="stranger")
    return Tenancy(organization, project, users, other_project)


@pytest.fixture
def user(db: None) -> Any:
    return make_user()


# --- Browser ----------------------------------------------------------------------------------

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOT_DIR = os.environ.get("SCREENSHOT_DIR", "test-artifacts")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not shutil.which(CHROMIUM):
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover
        pytest.skip("playwright is not installed")
    # Playwright's sync API runs an event loop in this thread; Django's ORM refuses to run
    # under a running loop unless told it is safe (the tests use the ORM synchronously).
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(15_000)
    console_errors: list[str] = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    page.console_errors = console_errors
    yield page
    context.close()


def screenshot(page: Any, name: str) -> str:
    os.makedirs(SCREENSHOT_DIR, exist_ok=True)
    path = os.path.join(SCREENSHOT_DIR, f"{name}.png")
    page.screenshot(path=path, full_page=True)
    return path
