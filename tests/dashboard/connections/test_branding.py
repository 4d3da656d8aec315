"""Hosted connect pages that end users trust: the project's branding (escaped, logo checked
by content), success/error URLs on allowed origins only, the page's language, and a CSP that
stays as strict as before."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from connections.models import ConnectBranding, Connection, ConnectSession
from connections.services import branding
from connections.services.connect import connect_session_create
from profiles.models import ConnectorProfile
from projects.models import AuditEntry, Role
from projects.services import Actor, ServiceError
from tests.factories import make_api_key, make_member, make_profile, make_project
from tests.provider import Answer, Provider, provider_server

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
SECRET = "sk_live_BRAND_0123456789"
APP = "https://app.example.com"


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        server.routes["/me"] = lambda seen: Answer(
            200 if seen.headers.get("Authorization") == f"Bearer {SECRET}" else 401
        )
        yield server


@pytest.fixture
def profile(provider: Provider) -> ConnectorProfile:
    return make_profile(make_project(), base_url=provider.url, health_path="/me")


def brand(profile: ConnectorProfile, **kw: Any) -> ConnectBranding:
    kw.setdefault("display_name", "Acme Cloud")
    kw.setdefault("primary_color", "#1a7f5a")
    kw.setdefault("theme", "auto")
    kw.setdefault("allowed_origins", [APP])
    return branding.branding_update(actor=SYSTEM, project=profile.project, **kw)


def link(profile: ConnectorProfile, **kw: Any) -> str:
    kw.setdefault("origin_owner_id", "cust-7")
    created = connect_session_create(
        actor=SYSTEM, project=profile.project, connector_profile_id=profile.public_id, **kw
    )
    return urlsplit(created.url).path


def png(size: tuple[int, int] = (64, 32), fmt: str = "PNG", extra: bytes = b"") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=fmt)
    return out.getvalue() + extra


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'


# --- Branding on the page ----------------------------------------------------------------------


def test_the_page_shows_the_brand_not_the_project_name(profile: ConnectorProfile) -> None:
    brand(profile, terms_url="https://acme.example/terms", support_email="help@acme.example")
    html = Client().get(link(profile)).content.decode()
    assert "Acme Cloud" in html
    assert profile.project.name not in html  # the internal project name stays internal
    assert 'href="https://acme.example/terms"' in html
    assert "mailto:help@acme.example" in html
    assert "/connect/theme.css?primary=1a7f5a&amp;theme=auto" in html


def test_without_branding_the_organization_name_shows(profile: ConnectorProfile) -> None:
    html = Client().get(link(profile)).content.decode()
    assert profile.project.organization.name in html
    assert "primary=0d6efd" in html


def test_a_hostile_display_name_is_escaped(profile: ConnectorProfile) -> None:
    brand(profile, display_name='<img src=x onerror=alert(1)>"Acme')
    html = Client().get(link(profile)).content.decode()
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;&quot;Acme" in html


def test_control_and_bidi_characters_in_the_name_are_refused(profile: ConnectorProfile) -> None:
    for name in ["Acme\x00", "Acme\u202eevil"]:
        with pytest.raises(ServiceError) as exc:
            brand(profile, display_name=name)
        assert exc.value.field == "display_name"
    assert not ConnectBranding.objects.exists()


def test_the_logo_is_reencoded_and_served_by_us(profile: ConnectorProfile) -> None:
    saved = brand(profile, logo=png(fmt="JPEG", extra=b"<script>trailing payload</script>"))
    data = bytes(saved.logo)
    assert data.startswith(b"\x89PNG")  # always a clean PNG
    assert b"trailing payload" not in data
    html = Client().get(link(profile)).content.decode()
    url = f"/connect/logo/{saved.logo_sha256}.png"
    assert f'src="{url}"' in html
    response = Client().get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content == data
    assert "immutable" in response["Cache-Control"]
    assert Client().get(f"/connect/logo/{'0' * 64}.png").status_code == 404


def test_a_large_logo_is_scaled_down(profile: ConnectorProfile) -> None:
    saved = brand(profile, logo=png(size=(1200, 600), fmt="WEBP"))
    with Image.open(io.BytesIO(bytes(saved.logo))) as image:
        assert image.size == (256, 128)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (SVG, "PNG, JPEG or WebP"),
        (b"GIF89a" + png()[6:], "PNG, JPEG or WebP"),
        (b"not an image at all", "PNG, JPEG or WebP"),
        (png(fmt="GIF"), "PNG, JPEG or WebP"),
        (png(extra=b"\0" * (branding.MAX_LOGO_BYTES + 1)), "at most 512 KB"),
    ],
)
def test_refused_logos_change_nothing(profile: ConnectorProfile, data: bytes, message: str) -> None:
    saved = brand(profile, logo=png())
    before = saved.logo_sha256
    with pytest.raises(ServiceError) as exc:
        brand(profile, display_name="Changed", logo=data)
    assert exc.value.field == "logo" and message in exc.value.message
    row = ConnectBranding.objects.get()
    assert row.logo_sha256 == before and row.display_name == "Acme Cloud"


def test_primary_colour_contrast() -> None:
    assert branding.text_color_on("#1a7f5a") == "#ffffff"
    assert branding.text_color_on("#ffd400") == "#000000"
    assert branding.color_problem("#1a7f5a", "auto") is None
    # Yellow on the light page: no 3:1 for the button's edge.
    problem = branding.color_problem("#ffd400", "light")
    assert problem and "light page background" in problem
    assert branding.color_problem("#ffd400", "dark") is None
    problem = branding.color_problem("#0a0a40", "auto")
    assert problem and "dark page background" in problem
    assert branding.color_problem("red", "light") is not None
    for color in ["#000000", "#ffffff", "#777777", "#0d6efd", "#ff00ff"]:
        text = branding.text_color_on(color)
        assert branding.contrast(color, text) >= 4.5


def test_theme_css_is_derived_from_its_query_only() -> None:
    response = Client().get("/connect/theme.css?primary=1a7f5a&theme=auto")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/css")
    css = response.content.decode()
    assert "--bs-btn-bg: #1a7f5a" in css and "--bs-btn-color: #ffffff" in css
    assert "@media (prefers-color-scheme: dark)" in css
    assert (
        "prefers-color-scheme"
        not in Client().get("/connect/theme.css?primary=1a7f5a&theme=light").content.decode()
    )
    for query in ["primary=red", "primary=1a7f5a;}body{x", "theme=neon", "primary=%0a"]:
        assert Client().get(f"/connect/theme.css?{query}").status_code == 400, query


def test_origins_are_checked(profile: ConnectorProfile, settings: Any) -> None:
    saved = brand(
        profile, allowed_origins=["HTTPS://App.Example.com/", APP, "http://127.0.0.1:8171"]
    )
    assert saved.allowed_origins == [APP, "http://127.0.0.1:8171"]
    for bad in [
        "https://app.example.com/path",
        "https://*.example.com",
        "ftp://x.example",
        "https://user:pw@app.example.com",
        "javascript:alert(1)",
        "app.example.com",
    ]:
        with pytest.raises(ServiceError) as exc:
            brand(profile, allowed_origins=[bad])
        assert exc.value.field == "allowed_origins", bad
    settings.CONNECT_ALLOW_HTTP_ORIGINS = False  # production
    with pytest.raises(ServiceError):
        brand(profile, allowed_origins=["http://app.example.com"])
    assert ConnectBranding.objects.get().allowed_origins == [APP, "http://127.0.0.1:8171"]


def test_the_settings_page_saves_and_audits(profile: ConnectorProfile) -> None:
    project = profile.project
    owner = make_member(project.organization, Role.OWNER)
    client = Client()
    client.force_login(owner)
    url = f"/p/{project.slug}/settings/connect-pages/"
    assert client.get(url).status_code == 200
    form = {
        "display_name": "Acme Cloud",
        "primary_color": "#1a7f5a",
        "theme": "dark",
        "terms_url": "",
        "privacy_url": "",
        "support_email": "help@acme.example",
        "allowed_origins": f"{APP}\nhttp://localhost:8172",
    }
    response = client.post(url, {**form, "logo": SimpleUploadedFile("x.png", png(), "image/png")})
    assert response.status_code == 302
    saved = ConnectBranding.objects.get(project=project)
    assert saved.theme == "dark" and saved.logo_sha256
    entry = AuditEntry.objects.get(action="connect_branding.updated")
    assert entry.after is not None and entry.after["display_name"] == "Acme Cloud"
    assert entry.actor == owner
    # An SVG renamed .png, sent as image/png: refused, nothing changes.
    response = client.post(
        url,
        {**form, "display_name": "Other", "logo": SimpleUploadedFile("x.png", SVG, "image/png")},
    )
    assert response.status_code == 400
    assert "SVG is not accepted" in response.content.decode()
    assert ConnectBranding.objects.get(project=project).display_name == "Acme Cloud"
    assert AuditEntry.objects.filter(action="connect_branding.updated").count() == 1
    # The preview follows unsaved values, framed by this site only.
    preview = client.get(url + "preview/?display_name=Preview+Co&primary_color=%23e35d6a")
    assert preview.status_code == 200 and "Preview Co" in preview.content.decode()
    assert "primary=e35d6a" in preview.content.decode()
    assert "frame-ancestors 'self'" in preview["Content-Security-Policy"]


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_members_and_viewers_cannot_change_branding(profile: ConnectorProfile, role: str) -> None:
    user = make_member(profile.project.organization, role)
    client = Client()
    client.force_login(user)
    url = f"/p/{profile.project.slug}/settings/connect-pages/"
    assert client.get(url).status_code == 403
    assert client.post(url, {"display_name": "x", "theme": "auto"}).status_code == 403
    assert client.get(url + "preview/").status_code == 403
    assert not ConnectBranding.objects.exists()


# --- A way back ----------------------------------------------------------------------------


def api_post(profile: ConnectorProfile, body: dict[str, Any]) -> Any:
    _key, raw = make_api_key(profile.project)
    return Client().post(
        "/api/v1/connect_sessions",
        json.dumps(
            {"origin_owner_id": "c-1", "connector_profile_id": str(profile.public_id), **body}
        ),
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/done",
        "https://app.example.com.evil.example/done",
        "https://app.example.com@evil.example/done",
        "//evil.example/done",
        "/relative/done",
        "javascript:alert(1)",
        "https:\\\\evil.example",
        "data:text/html,hi",
    ],
)
def test_return_urls_off_the_allow_list_are_refused(profile: ConnectorProfile, url: str) -> None:
    brand(profile)
    for field in ["success_url", "error_url"]:
        response = api_post(profile, {field: url})
        assert response.status_code == 400, (field, url)
        assert response.json()["fields"][0]["field"] == field
    assert not ConnectSession.objects.exists()


def test_return_urls_need_https_outside_local_settings(
    profile: ConnectorProfile, settings: Any
) -> None:
    brand(profile, allowed_origins=["http://127.0.0.1:8171"])
    assert api_post(profile, {"success_url": "http://127.0.0.1:8171/ok"}).status_code == 201
    settings.CONNECT_ALLOW_HTTP_ORIGINS = False
    assert api_post(profile, {"success_url": "http://127.0.0.1:8171/ok"}).status_code == 400


def test_success_redirects_with_the_connection_id_only(profile: ConnectorProfile) -> None:
    brand(profile)
    path = link(profile, success_url=f"{APP}/integrations?tab=crm", error_url=f"{APP}/oops")
    response = Client().post(path, {"config_api_key": SECRET})
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    connection = Connection.objects.get()
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{APP}/integrations"
    assert parse_qs(target.query) == {"tab": ["crm"], "connection_id": [str(connection.public_id)]}
    assert SECRET not in response["Location"] and path.split("/")[2] not in response["Location"]
    # The link is used: opening it again is a terminal error, sent to error_url.
    again = Client().get(path)
    assert again.status_code == 302 and again["Location"] == f"{APP}/oops?error=used"


def test_rejected_credentials_stay_on_the_page(profile: ConnectorProfile) -> None:
    brand(profile)
    path = link(profile, success_url=f"{APP}/ok", error_url=f"{APP}/oops")
    response = Client().post(path, {"config_api_key": "wrong"})
    assert response.status_code == 400  # not terminal: the end user may try again
    assert (
        'aria-invalid="true"' in response.content.decode()
        or "connect-error" in response.content.decode()
    )


def test_without_return_urls_the_done_page_shows(profile: ConnectorProfile) -> None:
    response = Client().post(link(profile), {"config_api_key": SECRET})
    assert response.status_code == 200 and 'data-testid="connect-done"' in response.content.decode()


def test_popup_mode_shows_the_done_page_and_loads_the_script(profile: ConnectorProfile) -> None:
    brand(profile)
    path = link(profile, success_url=f"{APP}/ok")
    response = Client().post(path + "?mode=popup", {"config_api_key": SECRET})
    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-connect-origin="{APP}"' in html and 'data-connect-outcome="success"' in html
    connection = Connection.objects.get()
    assert f'data-connect-connection-id="{connection.public_id}"' in html
    assert '<script src="/static/connect/popup.js"></script>' in html
    assert response["Cross-Origin-Opener-Policy"] == "unsafe-none"


# --- Languages -----------------------------------------------------------------------------

HEADINGS = {
    "en": "Connect Acme CRM",
    "de": "Acme CRM verbinden",
    "fr": "Connecter Acme CRM",
    "es": "Conectar Acme CRM",
    "ja": "Acme CRM に接続",
}


@pytest.mark.parametrize("locale", sorted(HEADINGS))
def test_the_session_locale_picks_the_language(profile: ConnectorProfile, locale: str) -> None:
    path = link(profile, locale=locale)
    # The session's locale wins over the browser's.
    response = Client().get(path, headers={"Accept-Language": "fr" if locale != "fr" else "de"})
    html = response.content.decode()
    assert HEADINGS[locale] in html, html
    assert f'<html lang="{locale}"' in html
    assert response["Content-Language"] == locale
    # The definition's field labels stay as written.
    assert ">Api_Key" in html


def test_accept_language_decides_without_a_locale(profile: ConnectorProfile) -> None:
    path = link(profile)
    assert (
        HEADINGS["de"]
        in Client().get(path, headers={"Accept-Language": "de-DE,de;q=0.9"}).content.decode()
    )
    assert HEADINGS["ja"] in Client().get(path, headers={"Accept-Language": "ja"}).content.decode()
    assert HEADINGS["en"] in Client().get(path, headers={"Accept-Language": "xx"}).content.decode()


def test_errors_speak_the_session_language(profile: ConnectorProfile) -> None:
    path = link(profile, locale="de")
    response = Client().post(path, {"config_api_key": "wrong"})
    assert "Der Anbieter hat diese Zugangsdaten abgelehnt" in response.content.decode()
    response = Client().post(path, {})
    assert "Api_Key ist erforderlich." in response.content.decode()


def test_a_locale_is_normalised_or_refused(profile: ConnectorProfile) -> None:
    assert api_post(profile, {"locale": "de-DE"}).status_code == 201
    assert ConnectSession.objects.get().locale == "de"
    for bad in ["klingon", "xx", "de-DE-x-very-long-tag"]:
        response = api_post(profile, {"locale": bad})
        assert response.status_code == 400, bad
    assert ConnectSession.objects.count() == 1


def test_the_language_shown_is_remembered_for_the_reconnect_link(profile: ConnectorProfile) -> None:
    Client().post(link(profile), {"config_api_key": SECRET}, headers={"Accept-Language": "es"})
    connection = Connection.objects.get()
    created = connect_session_create(
        actor=SYSTEM,
        project=profile.project,
        connector_profile_id=profile.public_id,
        account_id=connection.public_id,
    )
    assert created.session.locale == "es"
    html = Client().get(urlsplit(created.url).path).content.decode()
    assert "Volver a conectar Acme CRM" in html


# --- Headers -------------------------------------------------------------------------------


def directives(header: str) -> dict[str, str]:
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] if " " in d else "" for d in header.split("; ")}


def test_csp_stays_strict(profile: ConnectorProfile) -> None:
    path = link(profile)
    response = Client().get(path)
    csp = directives(response["Content-Security-Policy"])
    assert csp == {
        "default-src": "'none'",
        "script-src": "'none'",
        "style-src": "'self'",
        "img-src": "'self' data: https:",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
        "base-uri": "'none'",
    }
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "no-referrer"
    # Popup mode: our script files, never inline; still no framing without an allow-list.
    popup = directives(Client().get(path + "?mode=popup")["Content-Security-Policy"])
    assert popup["script-src"] == "'self'" and popup["frame-ancestors"] == "'none'"
    assert "unsafe" not in " ".join(popup.values()) and "nonce" not in " ".join(popup.values())


def test_allow_listed_origins_may_frame_the_page(profile: ConnectorProfile) -> None:
    brand(profile, allowed_origins=[APP, "http://localhost:8172"])
    response = Client().get(link(profile) + "?mode=embedded")
    csp = directives(response["Content-Security-Policy"])
    assert csp["frame-ancestors"] == f"{APP} http://localhost:8172"
    assert "X-Frame-Options" not in response


def test_the_form_may_post_on_to_the_return_urls_origins_only(profile: ConnectorProfile) -> None:
    brand(profile, allowed_origins=[APP, "https://other.example.com"])
    response = Client().get(link(profile, success_url=f"{APP}/ok"))
    csp = directives(response["Content-Security-Policy"])
    assert csp["form-action"] == f"'self' {APP}"  # not every allowed origin


def test_a_dashboard_link_may_choose_the_language(profile: ConnectorProfile) -> None:
    project = profile.project
    member = make_member(project.organization, Role.MEMBER)
    client = Client()
    client.force_login(member)
    url = f"/p/{project.slug}/profiles/{profile.public_id}/link/"
    body = {"origin_owner_id": "dash-1", "expires_in": "1800", "locale": "ja"}
    assert client.post(url, body).status_code == 200
    assert ConnectSession.objects.get().locale == "ja"
    assert client.post(url, {**body, "locale": "xx"}).status_code == 400
    assert ConnectSession.objects.count() == 1


def test_an_error_on_a_field_the_page_does_not_show_is_shown_on_top(
    profile: ConnectorProfile,
) -> None:
    response = Client().post(link(profile), {"config_api_key": SECRET, "config_bogus": "a\x00b"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'role="alert" id="connect-error"' in html and "bogus must not contain" in html
