"""Connect links from the dashboard: "Link account" on the profile and connector pages and
"Request re-authentication" on the connection page — the permission matrix, HTMX vs plain,
errors, the hosted page the link opens, and the token kept out of the database, the audit
log and the logs."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from html import unescape
from urllib.parse import urlsplit

import pytest
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connections.models import (
    Connection,
    ConnectionGrant,
    ConnectSession,
    GrantRole,
    Status,
    SubjectType,
)
from profiles.models import ConnectorProfile
from profiles.services import connector_version_push, profile_create
from projects.models import AuditEntry, Role
from projects.services import Actor
from tests.conftest import WHO, Tenancy
from tests.factories import (
    connector_yaml,
    make_connection,
    make_member,
    make_profile,
    update_connections,
)

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
HTMX = {"HX-Request": "true"}
LINK_URL = re.compile(r'id="link-url" value="([^"]+)"')
FORM = 'data-testid="link-form"'


@dataclass
class World:
    tenancy: Tenancy
    profile: ConnectorProfile  # acme_crm, the default profile
    other: ConnectorProfile  # acme_crm too, not the default
    foreign: ConnectorProfile  # orbit_hr: another connector of the same project
    elsewhere: ConnectorProfile  # acme_crm in another organization's project
    connection: Connection  # on ``profile``; grants: editor_grant (editor), viewer_grant (viewer)

    @property
    def slug(self) -> str:
        return self.tenancy.project.slug

    def client(self, who: str) -> Client:
        return self.tenancy.client(who)


@pytest.fixture
def world(tenancy: Tenancy) -> World:
    project = tenancy.project
    profile = make_profile(project)
    other = profile_create(actor=SYSTEM, project=project, connector_key="acme_crm", name="next")
    foreign = make_profile(project, "orbit_hr", "hr")
    elsewhere = make_profile(tenancy.other_project)
    connection = make_connection(
        profile, "cust-7", name="Globex", origin_owner_name="Gus", email="gus@globex.test"
    )
    for username, role in (("editor_grant", GrantRole.EDITOR), ("viewer_grant", GrantRole.VIEWER)):
        user = make_member(tenancy.organization, Role.MEMBER, username=username)
        tenancy.users[username] = user
        ConnectionGrant.objects.create(
            connection=connection, subject_type=SubjectType.USER, user=user, role=role
        )
    return World(tenancy, profile, other, foreign, elsewhere, connection)


def profile_link_url(world: World, profile: ConnectorProfile | None = None) -> str:
    return reverse("profile_link_create", args=[world.slug, (profile or world.profile).public_id])


def connector_link_url(world: World, key: str = "acme_crm") -> str:
    return reverse("connector_link_create", args=[world.slug, key])


def reauth_url(world: World) -> str:
    return reverse("connection_reauth_link", args=[world.slug, world.connection.public_id])


def link_in(html: str) -> str:
    match = LINK_URL.search(html)
    assert match is not None, "no link in the response"
    return unescape(match.group(1))


def token_of(url: str) -> str:
    path = urlsplit(url).path
    assert path.startswith("/connect/"), url
    return path.removeprefix("/connect/").strip("/")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


ACCOUNT = {
    "origin_owner_id": "cust-101",
    "origin_owner_name": "Dana",
    "email": "dana@example.test",
    "expires_in": "1800",
}


# --- Link account on the profile page: the matrix -----------------------------------------------

EXPECTED = {"owner": 200, "admin": 200, "member": 200, "viewer": 403, "stranger": 404}


@pytest.mark.parametrize("who", WHO)
def test_link_account_matrix(world: World, who: str) -> None:
    response = world.client(who).post(profile_link_url(world), ACCOUNT)
    if who == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
        assert not ConnectSession.objects.exists()
        return
    assert response.status_code == EXPECTED[who]
    if response.status_code != 200:
        assert not ConnectSession.objects.exists()
        assert "link-url" not in response.content.decode()
        return
    session = ConnectSession.objects.get()
    assert session.profile == world.profile and session.account is None
    assert (session.origin_owner_id, session.origin_owner_name, session.email) == (
        "cust-101",
        "Dana",
        "dana@example.test",
    )
    assert session.created_by_label == who
    assert set(response["Cache-Control"].split(", ")) == {"no-store", "private"}
    html = response.content.decode()
    assert digest(token_of(link_in(html))) == session.token_hash
    assert "Shown only once" in html and "Single use" in html


@pytest.mark.parametrize("who", ["owner", "admin", "member", "viewer"])
def test_the_form_is_shown_to_writers_only(world: World, who: str) -> None:
    client = world.client(who)
    pages = [
        reverse("profile_detail", args=[world.slug, world.profile.public_id]),
        reverse("connector_detail", args=[world.slug, "acme_crm"]),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        assert (FORM in html) is (who != "viewer"), (who, url)
        assert "link-url" not in html  # a page never shows a link on its own


@pytest.mark.parametrize("name", ["profile_link_create", "connector_link_create", "reauth"])
def test_get_is_405(world: World, name: str) -> None:
    url = {
        "profile_link_create": profile_link_url(world),
        "connector_link_create": connector_link_url(world),
        "reauth": reauth_url(world),
    }[name]
    assert world.client("owner").get(url).status_code == 405
    assert not ConnectSession.objects.exists()


def test_htmx_swaps_the_panel_and_plain_renders_the_link_page(world: World) -> None:
    client = world.client("member")
    htmx = client.post(profile_link_url(world), ACCOUNT, headers=HTMX)
    assert htmx.status_code == 200 and set(htmx["Cache-Control"].split(", ")) == {
        "no-store",
        "private",
    }
    body = htmx.content.decode()
    assert body.lstrip().startswith('<div class="card mb-3 link-panel" id="link-panel"')
    assert "<html" not in body and "breadcrumb" not in body
    assert link_in(body)

    plain = client.post(profile_link_url(world), ACCOUNT)
    assert plain.status_code == 200 and set(plain["Cache-Control"].split(", ")) == {
        "no-store",
        "private",
    }
    page = plain.content.decode()
    assert "<html" in page and 'class="breadcrumb"' in page
    assert world.profile.name in page and "Link account" in page
    assert link_in(page) != link_in(body)  # two sessions, two tokens
    assert ConnectSession.objects.count() == 2
    # The link's origin page offers another link, not the old one again.
    again = reverse("profile_detail", args=[world.slug, world.profile.public_id])
    assert f'href="{again}" data-testid="link-again"' in page


@pytest.mark.parametrize(
    ("data", "field_message"),
    [
        ({**ACCOUNT, "origin_owner_id": "  "}, "This field is required."),
        ({**ACCOUNT, "email": "not-an-email"}, "Enter a valid email address."),
        ({**ACCOUNT, "expires_in": "999"}, "Select a valid choice."),
    ],
)
def test_errors_show_the_form_again(world: World, data: dict[str, str], field_message: str) -> None:
    client = world.client("owner")
    plain = client.post(profile_link_url(world), data)
    assert plain.status_code == 400
    assert field_message in plain.content.decode() and FORM in plain.content.decode()
    htmx = client.post(profile_link_url(world), data, headers=HTMX)
    assert htmx.status_code == 422  # the middleware's status for HTMX form errors
    html = htmx.content.decode()
    assert field_message in html and FORM in html and "<html" not in html
    assert 'value="Dana"' in html  # what was typed is kept
    assert not ConnectSession.objects.exists()


@pytest.mark.parametrize(
    ("choice", "seconds"), [("1800", 1800), ("86400", 86400), ("432000", 432000)]
)
def test_expiry_choices(world: World, choice: str, seconds: int) -> None:
    before = timezone.now()
    response = world.client("owner").post(
        profile_link_url(world), {**ACCOUNT, "expires_in": choice}
    )
    assert response.status_code == 200
    session = ConnectSession.objects.get()
    assert before + timedelta(seconds=seconds - 5) <= session.expires_at
    assert session.expires_at <= timezone.now() + timedelta(seconds=seconds)


def test_another_projects_profile_is_404(world: World) -> None:
    response = world.client("owner").post(profile_link_url(world, world.elsewhere), ACCOUNT)
    assert response.status_code == 404
    assert not ConnectSession.objects.exists()


# --- The link: hosted page, hashed token, no audit or log copy ----------------------------------


def test_the_link_opens_the_hosted_page_and_the_token_is_kept_nowhere(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = world.client("member").post(profile_link_url(world), ACCOUNT, headers=HTMX)
    url = link_in(response.content.decode())
    token = token_of(url)
    assert len(token) >= 43

    hosted = Client().get(urlsplit(url).path)  # a fresh browser: no dashboard session
    assert hosted.status_code == 200
    assert "Connect Acme CRM" in hosted.content.decode()

    session = ConnectSession.objects.get()
    assert session.token_hash == digest(token)
    stored = json.dumps(model_to_dict(session), default=str)
    assert token not in stored
    entries = list(AuditEntry.objects.all())
    assert any(e.action == "connect_session.created" for e in entries)
    for entry in entries:
        assert token not in json.dumps(model_to_dict(entry), default=str), entry.action
    assert token not in caplog.text
    assert any("connect session" in r.getMessage() for r in caplog.records)


# --- Link account on the connector page ---------------------------------------------------------


def test_connector_page_preselects_the_default_profile(world: World) -> None:
    html = world.client("member").get(connector_link_url(world).replace("link/", "")).content
    select = re.search(
        r'<select class="form-select" name="profile".*?</select>', html.decode(), re.S
    )
    assert select is not None
    options = re.findall(r'<option value="([0-9a-f-]{36})"( selected)?>', select.group(0))
    assert {pk for pk, _ in options} == {str(world.profile.public_id), str(world.other.public_id)}
    assert [pk for pk, selected in options if selected] == [str(world.profile.public_id)]


def test_connector_link_goes_to_the_chosen_profile(world: World) -> None:
    client = world.client("member")
    response = client.post(connector_link_url(world), {**ACCOUNT, "profile": world.other.public_id})
    assert response.status_code == 200
    assert ConnectSession.objects.get().profile == world.other
    assert link_in(response.content.decode())


@pytest.mark.parametrize(
    ("profile", "status"),
    [("foreign", 400), ("elsewhere", 404), ("bogus", 400), ("huge", 400), ("", 400)],
)
def test_connector_link_refuses_other_profiles(world: World, profile: str, status: int) -> None:
    value = {
        "foreign": str(world.foreign.public_id),
        "elsewhere": str(world.elsewhere.public_id),
        "bogus": "abc",
        "huge": "9" * 40,
        "": "",
    }[profile]
    response = world.client("owner").post(connector_link_url(world), {**ACCOUNT, "profile": value})
    assert response.status_code == status
    if status == 400:
        assert 'data-testid="link-error"' in response.content.decode()
    assert not ConnectSession.objects.exists()


def test_connector_without_a_profile(world: World) -> None:
    connector_version_push(
        actor=SYSTEM, project=world.tenancy.project, files=[("l.yaml", connector_yaml("lone_crm"))]
    )
    for who, offers_new in (("owner", True), ("member", False)):
        html = world.client(who).get(connector_link_url(world, "lone_crm")[: -len("link/")])
        body = html.content.decode()
        assert 'data-testid="link-no-profile"' in body and FORM not in body
        assert (reverse("profile_new", args=[world.slug]) in body) is offers_new
    response = world.client("member").post(connector_link_url(world, "lone_crm"), ACCOUNT)
    assert response.status_code == 400 and "Choose a profile." in response.content.decode()
    assert not ConnectSession.objects.exists()


@pytest.mark.parametrize(("who", "status"), [("viewer", 403), ("stranger", 404)])
def test_connector_link_matrix(world: World, who: str, status: int) -> None:
    response = world.client(who).post(
        connector_link_url(world), {**ACCOUNT, "profile": world.profile.public_id}
    )
    assert response.status_code == status
    assert not ConnectSession.objects.exists()


# --- Request re-authentication ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("owner", 200),
        ("admin", 200),
        ("editor_grant", 200),
        ("viewer_grant", 403),
        ("member", 404),  # no grant, no organization-level role: the connection is invisible
        ("viewer", 404),
        ("stranger", 404),
    ],
)
def test_reauth_matrix(world: World, who: str, status: int) -> None:
    response = world.client(who).post(reauth_url(world), {"expires_in": "86400"})
    assert response.status_code == status
    if status != 200:
        assert not ConnectSession.objects.exists()
        return
    session = ConnectSession.objects.get()
    assert session.account_id == world.connection.pk
    assert session.profile == world.profile  # its own profile by default
    assert (session.origin_owner_id, session.origin_owner_name, session.email) == (
        "cust-7",
        "Gus",
        "gus@globex.test",
    )
    assert set(response["Cache-Control"].split(", ")) == {"no-store", "private"}
    assert link_in(response.content.decode())
    assert AuditEntry.objects.filter(action="connect_session.reauth_created").count() == 1


def test_reauth_anonymous_goes_to_login(world: World) -> None:
    response = Client().post(reauth_url(world), {"expires_in": "1800"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_reauth_panel_is_for_editors(world: World) -> None:
    page = reverse("connection_detail", args=[world.slug, world.connection.public_id])
    editor = world.client("editor_grant").get(page).content.decode()
    assert FORM in editor and "Request re-authentication" in editor
    assert 'data-testid="reauth-needed"' not in editor
    update_connections(
        Connection.objects.filter(pk=world.connection.pk), status=Status.NEEDS_REAUTH
    )
    editor = world.client("editor_grant").get(page).content.decode()
    assert 'data-testid="reauth-needed"' in editor
    assert f'value="{world.other.public_id}"' in editor  # the same connector's other profile
    assert f'value="{world.foreign.public_id}"' not in editor  # never another connector's
    viewer = world.client("viewer_grant").get(page).content.decode()
    assert FORM not in viewer


def test_reauth_to_another_profile_moves_the_connection_when_used(world: World) -> None:
    client = world.client("editor_grant")
    response = client.post(
        reauth_url(world), {"profile": world.other.public_id, "expires_in": "1800"}, headers=HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "moves to that profile" in html
    session = ConnectSession.objects.get()
    assert (session.account_id, session.profile_id) == (world.connection.pk, world.other.pk)

    page = reverse("connection_detail", args=[world.slug, world.connection.public_id])
    overview = client.get(page).content.decode()
    latest = re.search(r'data-testid="reauth-latest" data-state="(\w+)">(.*?)</dd>', overview, re.S)
    assert latest is not None and latest.group(1) == "unused"
    assert "by editor_grant" in latest.group(2) and "for next" in latest.group(2)
    token_path = urlsplit(link_in(html)).path
    assert token_of(link_in(html)) not in overview  # the token is never shown again

    done = Client().post(token_path, {"config_api_key": "sk_live_new_key_0123456789"})
    assert done.status_code == 200 and "is reconnected" in done.content.decode()
    world.connection.refresh_from_db()
    assert world.connection.profile == world.other
    assert world.connection.moved_from_profile == world.profile
    overview = client.get(page).content.decode()
    assert 'data-testid="reauth-latest" data-state="used"' in overview


def test_reauth_overview_says_expired(world: World) -> None:
    world.client("owner").post(reauth_url(world), {"expires_in": "1800"})
    ConnectSession.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    page = reverse("connection_detail", args=[world.slug, world.connection.public_id])
    html = world.client("viewer_grant").get(page).content.decode()  # readers see it too
    assert 'data-testid="reauth-latest" data-state="expired"' in html


@pytest.mark.parametrize(("profile", "status"), [("foreign", 400), ("elsewhere", 404)])
def test_reauth_refuses_other_connectors_and_projects(
    world: World, profile: str, status: int
) -> None:
    target = {"foreign": world.foreign, "elsewhere": world.elsewhere}[profile]
    client = world.client("owner")
    plain = client.post(reauth_url(world), {"profile": target.public_id, "expires_in": "1800"})
    assert plain.status_code == status
    if status == 400:
        assert "another connector" in plain.content.decode()
        htmx = client.post(
            reauth_url(world), {"profile": target.public_id, "expires_in": "1800"}, headers=HTMX
        )
        assert htmx.status_code == 422 and FORM in htmx.content.decode()
    assert not ConnectSession.objects.exists()
