"""Try it in Chromium: on a version page, run an action against a connection over HTMX and
see the mapped records and the version that served them; then the Requests tab lists it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from projects.models import Role
from tests.conftest import screenshot
from tests.dashboard.runtime.test_pages import document
from tests.e2e.test_connections import log_in
from tests.factories import make_member, make_organization, make_project
from tests.provider import Answer, Provider, provider_server
from tests.runtime.helpers import connection_on

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        server.routes["/people"] = Answer(200, {"people": [{"first": "Ada"}, {"first": "Grace"}]})
        yield server


def test_try_it_shows_the_mapped_result(page: Any, live_server: Any, provider: Provider) -> None:
    organization = make_organization("tryit")
    project = make_project(organization, "tryit-prod")
    make_member(organization, Role.ADMIN, username="tryer")
    _, connection = connection_on(project, document(provider.url))
    version = connection.resolved_version
    assert version is not None
    log_in(page, live_server.url, "tryer")
    page.goto(
        f"{live_server.url}/p/{project.slug}/connectors/{version.connector.key}/versions/{version.pk}/"
    )
    page.locator("summary", has_text="list_people").click()
    panel = page.get_by_test_id("try-it-list_people")
    panel.locator("input[name=input_q]").fill("ad")
    page.get_by_test_id("try-run-list_people").click()
    expect(page.get_by_test_id("try-version")).to_have_text("1.0.0")
    expect(page.get_by_test_id("try-json")).to_contain_text('"name": "Ada"')
    assert "/try/" not in page.url  # swapped in place over HTMX
    assert provider.calls("/people")[0].query == {"q": ["ad"]}
    screenshot(page, "try-it")
    page.goto(f"{live_server.url}/p/{project.slug}/connections/{connection.public_id}/")
    page.get_by_test_id("requests-tab").click()
    expect(page.get_by_test_id("request-row")).to_have_count(1)
    expect(page.get_by_test_id("requests-table")).to_contain_text("list_people")
