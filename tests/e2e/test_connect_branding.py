"""The hosted connect page as an end user of a customer sees it, in Chromium: the customer's
brand, the way back to the customer's app (a real HTTP server on loopback standing in for it),
the page's language, the popup that reports to its opener at the allowed origin only, and
axe-core (vendored from npm) finding nothing critical or serious on any hosted page."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from PIL import Image

from connections.models import Connection, ConnectSession
from connections.services import branding
from projects.services import Actor
from sandbox.demo import seed_sandbox_oauth_profile, seed_sandbox_profile
from tests.conftest import screenshot
from tests.factories import make_api_key, make_project

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
APP_PORT, OTHER_PORT = 8171, 8172
APP = f"http://127.0.0.1:{APP_PORT}"  # the customer's app: an allowed origin
OTHER = f"http://localhost:{OTHER_PORT}"  # another origin (same machine, not allowed)
API_KEY = "demo_live_0123456789"

OPENER = """<!doctype html><html><head><title>Customer app</title></head><body>
<button id="open">Connect</button>
<script>
window.received = [];
addEventListener("message", (e) => window.received.push({origin: e.origin, data: e.data}));
document.getElementById("open").onclick = () => {
  window.popup = window.open(new URLSearchParams(location.search).get("url"), "connect",
                             "width=480,height=720");
};
</script></body></html>"""


class _App(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = (OPENER if self.path.startswith("/opener") else "<h1>Back in the app</h1>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def apps() -> Iterator[None]:
    servers = [ThreadingHTTPServer(("127.0.0.1", port), _App) for port in (APP_PORT, OTHER_PORT)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield
    for server in servers:
        server.shutdown()
        server.server_close()


def logo_png() -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", (160, 40), (26, 127, 90))
    image.paste((255, 255, 255), (10, 10, 40, 30))
    image.save(out, format="PNG")
    return out.getvalue()


def branded_project(**kw: Any) -> Any:
    project = make_project()
    kw.setdefault("display_name", "Acme Cloud")
    kw.setdefault("primary_color", "#1a7f5a")
    kw.setdefault("theme", "light")
    branding.branding_update(
        actor=Actor.system(), project=project, allowed_origins=[APP], logo=logo_png(), **kw
    )
    return project


def create_link(project: Any, **body: Any) -> dict[str, Any]:
    _key, raw = make_api_key(project)
    body.setdefault("origin_owner_id", "cust-1")
    body.setdefault("connector_key", "sandbox_crm")
    response = Client().post(
        "/api/v1/connect_sessions",
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def sandbox(live_server: Any, settings: Any) -> Any:
    settings.SITE_URL = live_server.url
    project = branded_project()
    seed_sandbox_profile(project)
    profile = seed_sandbox_profile(project)
    profile.is_default = True
    profile.save(update_fields=["is_default"])
    return project


def test_german_connect_lands_on_the_success_url(browser: Any, sandbox: Any, apps: None) -> None:
    link = create_link(sandbox, locale="de", success_url=f"{APP}/done?from=hub")
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 860})
    page = context.new_page()
    try:
        page.goto(link["url"])
        assert page.get_by_role("heading", name="Sandbox CRM verbinden").is_visible()
        assert (
            page.get_by_test_id("connect-brand").get_by_role("img", name="Acme Cloud").is_visible()
        )
        color = page.get_by_test_id("connect-submit").evaluate(
            "b => getComputedStyle(b).backgroundColor"
        )
        assert color == "rgb(26, 127, 90)"
        page.get_by_label("API key").fill("wrong-key-123456")
        page.get_by_test_id("connect-submit").click()
        error = page.get_by_test_id("connect-error")
        assert "Der Anbieter hat diese Zugangsdaten abgelehnt" in error.inner_text()
        screenshot(page, "connect-branded-de-rejected")
        page.get_by_label("API key").fill(API_KEY)
        screenshot(page, "connect-branded-de")
        page.get_by_role("button", name="Verbinden").click()
        page.wait_for_url(f"{APP}/done?**")
        query = parse_qs(urlsplit(page.url).query)
    finally:
        context.close()
    connection = Connection.objects.get()
    assert query == {"from": ["hub"], "connection_id": [str(connection.public_id)]}


LANGUAGES = {
    "en-GB": "Connect Sandbox CRM",
    "de-DE": "Sandbox CRM verbinden",
    "fr-FR": "Connecter Sandbox CRM",
    "es-ES": "Conectar Sandbox CRM",
    "ja-JP": "Sandbox CRM に接続",
}


def test_accept_language_picks_each_language(browser: Any, sandbox: Any) -> None:
    link = create_link(sandbox)
    for locale, heading in LANGUAGES.items():
        context = browser.new_context(locale=locale)  # Chromium sends it as Accept-Language
        page = context.new_page()
        try:
            page.goto(link["url"])
            assert page.get_by_role("heading", name=heading).is_visible(), locale
            assert page.locator("html").get_attribute("lang") == locale[:2]
            assert page.get_by_label("API key").is_visible()  # the definition's own label
        finally:
            context.close()


def _open_popup(context: Any, opener_origin: str, url: str) -> tuple[Any, Any]:
    opener = context.new_page()
    opener.goto(f"{opener_origin}/opener.html?url={url}?mode=popup")
    with opener.expect_popup() as info:
        opener.get_by_role("button", name="Connect").click()
    popup = info.value
    popup.wait_for_load_state()
    return opener, popup


def test_the_popup_tells_its_opener_at_the_allowed_origin(
    browser: Any, sandbox: Any, apps: None, live_server: Any
) -> None:
    link = create_link(sandbox, success_url=f"{APP}/done", locale="de")
    context = browser.new_context()
    try:
        opener, popup = _open_popup(context, APP, link["url"])
        popup.get_by_label("API key").fill(API_KEY)
        popup.get_by_role("button", name="Verbinden").click()
        popup.get_by_test_id("connect-done").wait_for()
        screenshot(popup, "connect-popup-de-done")
        opener.wait_for_function("window.received.length > 0")
        received = opener.evaluate("window.received")
    finally:
        context.close()
    connection = Connection.objects.get()
    hub = live_server.url.rstrip("/")
    assert received == [
        {
            "origin": hub,
            "data": {
                "source": "connector-hub",
                "type": "connect.success",
                "connection_id": str(connection.public_id),
            },
        }
    ]


def test_the_popup_posts_nothing_to_another_origin(browser: Any, sandbox: Any, apps: None) -> None:
    link = create_link(sandbox, success_url=f"{APP}/done")
    context = browser.new_context()
    try:
        opener, popup = _open_popup(context, OTHER, link["url"])
        popup.get_by_label("API key").fill(API_KEY)
        popup.get_by_test_id("connect-submit").click()
        popup.get_by_test_id("connect-done").wait_for()
        # Messages from one window arrive in order: once this marker is in, anything the page
        # had posted to this opener would be in too.
        popup.evaluate("window.opener.postMessage('marker', '*')")
        opener.wait_for_function("window.received.length > 0")
        received = opener.evaluate("window.received.map(m => m.data)")
    finally:
        context.close()
    assert Connection.objects.count() == 1  # connected, but the other origin heard nothing
    assert received == ["marker"]


def test_closing_the_popup_tells_the_opener(browser: Any, sandbox: Any, apps: None) -> None:
    link = create_link(sandbox, error_url=f"{APP}/oops")
    context = browser.new_context()
    try:
        opener, popup = _open_popup(context, APP, link["url"])
        popup.close(run_before_unload=True)
        opener.wait_for_function("window.received.length > 0")
        received = opener.evaluate("window.received.map(m => m.data)")
        assert opener.evaluate("window.popup.closed")
    finally:
        context.close()
    assert received == [{"source": "connector-hub", "type": "connect.closed"}]
    assert ConnectSession.objects.get().used_at is None


# --- Accessibility ---------------------------------------------------------------------------


def axe_problems(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
        for v in result["violations"]
        if v["impact"] in ("critical", "serious")
    ]


def hosted_pages(project: Any, live_server: Any) -> dict[str, str]:
    """Every kind of hosted page, each by a fresh link."""
    return {
        "form": create_link(project)["url"],
        "form-popup": create_link(project, success_url=f"{APP}/d")["url"] + "?mode=popup",
        "form-de": create_link(project, locale="de")["url"],
        "oauth": create_link(project, connector_key="sandbox_hr")["url"],
        "unknown": live_server.url + "/connect/" + "x" * 43 + "/",
    }


@pytest.mark.parametrize("theme", ["light", "dark", "auto"])
def test_axe_finds_nothing_serious_on_any_hosted_page(
    browser: Any, live_server: Any, settings: Any, theme: str
) -> None:
    settings.SITE_URL = live_server.url
    project = branded_project(
        theme=theme, support_email="help@acme.example", terms_url="https://acme.example/terms"
    )
    profile = seed_sandbox_profile(project)
    profile.is_default = True
    profile.save(update_fields=["is_default"])
    seed_sandbox_oauth_profile(project)
    problems: dict[str, list[str]] = {}
    context = browser.new_context(
        bypass_csp=True,
        viewport={"width": 360, "height": 740},
        color_scheme="dark" if theme == "auto" else "light",
    )
    page = context.new_page()
    try:
        for name, url in hosted_pages(project, live_server).items():
            page.goto(url)
            problems[name] = axe_problems(page)
            # Usable at 360 px: nothing wider than the screen.
            assert page.evaluate("document.documentElement.scrollWidth") <= 360, name
        page.goto(create_link(project)["url"])
        page.get_by_test_id("connect-submit").click()  # the required field left empty
        problems["field-error"] = axe_problems(page)
        field = page.get_by_label("API key")
        described = field.get_attribute("aria-describedby")
        assert described and "erforderlich" not in page.locator(f"#{described}").inner_text()
        assert "API key is required" in page.locator(f"#{described}").inner_text()
        assert field.get_attribute("aria-invalid") == "true"
        field.fill(API_KEY)
        page.get_by_test_id("connect-submit").click()
        page.get_by_test_id("connect-done").wait_for()
        problems["done"] = axe_problems(page)
        page.goto(page.url)
        problems["used"] = axe_problems(page)
        if theme == "dark":
            screenshot(page, "connect-branded-360-dark-used")
    finally:
        context.close()
    assert problems == {name: [] for name in problems}


def test_keyboard_only_with_visible_focus(browser: Any, sandbox: Any) -> None:
    link = create_link(sandbox)
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    try:
        page.goto(link["url"])
        field = page.get_by_label("API key")
        for _ in range(10):  # Tab until the field has focus (logo, links come first)
            page.keyboard.press("Tab")
            if field.evaluate("e => e === document.activeElement"):
                break
        assert field.evaluate("e => e === document.activeElement")
        page.keyboard.type(API_KEY)
        page.keyboard.press("Tab")
        button = page.get_by_test_id("connect-submit")
        assert button.evaluate("e => e === document.activeElement")
        outline = button.evaluate(
            "e => getComputedStyle(e).outlineStyle + ' ' + getComputedStyle(e).outlineWidth"
        )
        assert outline.startswith("solid") and outline != "solid 0px", outline
        screenshot(page, "connect-keyboard-focus-360")
        page.keyboard.press("Enter")
        page.get_by_test_id("connect-done").wait_for()
    finally:
        context.close()
    assert Connection.objects.count() == 1


def test_an_oauth_sign_in_in_the_popup(
    browser: Any, sandbox: Any, apps: None, live_server: Any
) -> None:
    profile = seed_sandbox_oauth_profile(sandbox)
    link = create_link(sandbox, connector_key="sandbox_hr", success_url=f"{APP}/done", locale="fr")
    context = browser.new_context()
    try:
        opener, popup = _open_popup(context, APP, link["url"])
        popup.get_by_role("link", name="Continuer vers Sandbox HR").click()
        popup.get_by_test_id("consent-allow").click()
        popup.get_by_test_id("connect-done").wait_for()
        assert popup.get_by_role("heading", name="Sandbox HR est connecté").is_visible()
        opener.wait_for_function("window.received.length > 0")
        received = opener.evaluate("window.received.map(m => m.data)")
    finally:
        context.close()
    connection = Connection.objects.get(profile=profile)
    assert received == [
        {
            "source": "connector-hub",
            "type": "connect.success",
            "connection_id": str(connection.public_id),
        }
    ]
