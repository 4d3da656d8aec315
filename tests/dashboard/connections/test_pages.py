"""Connection pages: the RBAC matrix on every view, masked secrets, filters and keyset pages,
bulk actions, the Access tab over HTMX, query counts, and the version adoption chart."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection as db
from django.db.models import Q
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from connections import counters
from connections.models import (
    Connection,
    ConnectionGrant,
    GrantRole,
    Health,
    Status,
    SubjectType,
)
from connections.services.connections import connection_set_status
from profiles.models import ConnectorProfile
from profiles.services import connector_version_push
from projects.crypto import mask
from projects.models import AuditEntry, Role, Team
from projects.services import Actor
from tests.conftest import Tenancy
from tests.factories import (
    connector_yaml,
    make_connection,
    make_member,
    make_profile,
    make_team,
    member_id,
    update_connections,
)
from tests.provider import Answer, Provider, provider_server

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
SECRET = "sk_live_pages_secret_0123456789"
ACCESS_TOKEN = "at_pages_access_token_abcdefghij"
REFRESH_TOKEN = "rt_pages_refresh_token_klmnopqrst"
HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()  # adoption counts are cached per project id, and ids repeat across tests
    yield
    cache.clear()


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        server.routes["/me"] = Answer(200)
        yield server


@dataclass
class World:
    tenancy: Tenancy
    profile: ConnectorProfile
    a: Connection  # grants: user owner/editor/viewer, a team (editor), the org viewer (editor)
    b: Connection  # organization-level role "editor", no grants
    c: Connection  # nothing: only organization owners and admins
    team: Team

    @property
    def slug(self) -> str:
        return self.tenancy.project.slug

    def client(self, who: str) -> Client:
        return self.tenancy.client(who)

    def url(self, name: str, connection: Connection | None = None) -> str:
        args: list[Any] = [self.slug]
        if connection is not None:
            args.append(connection.public_id)
        return reverse(name, args=args)


@pytest.fixture
def world(tenancy: Tenancy, provider: Provider) -> World:
    org = tenancy.organization
    for name in ("u_owner", "u_editor", "u_viewer", "teamed", "outsider"):
        tenancy.users[name] = make_member(org, Role.MEMBER, username=name)
    profile = make_profile(tenancy.project, base_url=provider.url, health_path="/me")
    a = make_connection(profile, "alice-1", config={"api_key": SECRET}, name="Alice CRM")
    b = make_connection(profile, "bob-2", name="Bob CRM")
    c = make_connection(profile, "carol-3", name="Carol CRM")
    team = make_team(org, "Support", tenancy.users["teamed"])
    for user, role in (
        ("u_owner", GrantRole.OWNER),
        ("u_editor", GrantRole.EDITOR),
        ("u_viewer", GrantRole.VIEWER),
        ("viewer", GrantRole.EDITOR),  # an organization viewer: capped at viewer
    ):
        ConnectionGrant.objects.create(
            connection=a, subject_type=SubjectType.USER, user=tenancy.users[user], role=role
        )
    ConnectionGrant.objects.create(
        connection=a, subject_type=SubjectType.TEAM, team=team, role=GrantRole.EDITOR
    )
    Connection.objects.filter(pk=b.pk).update(org_role="editor")
    b.refresh_from_db()
    return World(tenancy, profile, a, b, c, team)


# The effective role of each user on A, B and C ("" = not visible).
ROLES: dict[str, tuple[str, str, str]] = {
    "owner": ("owner", "owner", "owner"),
    "admin": ("owner", "owner", "owner"),
    "u_owner": ("owner", "editor", ""),
    "u_editor": ("editor", "editor", ""),
    "u_viewer": ("viewer", "editor", ""),
    "teamed": ("editor", "editor", ""),
    "outsider": ("", "editor", ""),  # a member with nothing but the organization-level role
    "member": ("", "editor", ""),
    "viewer": ("viewer", "viewer", ""),  # an org viewer with an editor grant: still read-only
    "stranger": ("", "", ""),
    "anonymous": ("", "", ""),
}
EVERYONE = list(ROLES)
RANK = {"": 0, "viewer": 1, "editor": 2, "owner": 3}


def expected(who: str, role: str, need: str) -> int:
    """The status of a request needing ``need``: redirect to log in, 404 when not visible,
    403 when the role is too low, else ``None`` (the view's own success status)."""
    if who == "anonymous":
        return 302
    if not role:
        return 404
    if RANK[role] < RANK[need]:
        return 403
    return 0


def rows_of(html: str) -> set[str]:
    return set(re.findall(r'data-testid="connection-row" data-owner="([^"]+)"', html))


# --- The RBAC matrix ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", EVERYONE)
def test_list_shows_exactly_the_visible_rows(world: World, who: str) -> None:
    response = world.client(who).get(world.url("connection_list"))
    if who == "anonymous":
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
        return
    if who == "stranger":
        assert response.status_code == 404
        return
    assert response.status_code == 200
    owners = {"alice-1": 0, "bob-2": 1, "carol-3": 2}
    wanted = {owner for owner, i in owners.items() if ROLES[who][i]}
    html = response.content.decode()
    assert rows_of(html) == wanted
    if not wanted:
        assert "No connections shared with you" in html


@pytest.mark.parametrize("who", EVERYONE)
def test_detail_and_writes_follow_the_role(world: World, who: str, provider: Provider) -> None:
    client = world.client(who)
    role_a = ROLES[who][0]
    a = world.a

    detail = client.get(world.url("connection_detail", a))
    assert detail.status_code == (expected(who, role_a, "viewer") or 200)
    access_tab = client.get(world.url("connection_detail", a) + "?tab=access")
    assert access_tab.status_code == (expected(who, role_a, "viewer") or 200)
    if detail.status_code == 200:
        html = detail.content.decode()
        # Edit controls only for editors and above; delete and access writes for owners.
        assert ('data-testid="manage-card"' in html) == (RANK[role_a] >= 2)
        assert ("Check now" in html) == (RANK[role_a] >= 2)
        assert (world.url("connection_delete", a) in html) == (role_a == "owner")
        tab = access_tab.content.decode()
        assert ('data-testid="grant-add"' in tab) == (role_a == "owner")
        assert ('data-testid="access-read-only"' in tab) == (role_a != "owner")

    rename = client.post(world.url("connection_rename", a), {"name": "Renamed"})
    assert rename.status_code == (expected(who, role_a, "editor") or 302)
    a.refresh_from_db()
    assert (a.name == "Renamed") == (rename.status_code == 302 and who != "anonymous")

    status = client.post(world.url("connection_status", a), {"status": "disabled"})
    assert status.status_code == (expected(who, role_a, "editor") or 302)
    a.refresh_from_db()
    allowed_write = RANK[role_a] >= 2 and who != "anonymous"
    assert (a.status == Status.DISABLED) == allowed_write

    if a.status == Status.DISABLED:  # a disabled connection is never checked: enable it
        connection_set_status(actor=SYSTEM, connection=a, status=Status.ACTIVE)
    before_calls = len(provider.calls("/me"))
    check = client.post(world.url("connection_check_now", a))
    assert check.status_code == (expected(who, role_a, "editor") or 302)
    assert len(provider.calls("/me")) == before_calls + (1 if allowed_write else 0)

    org_role = client.post(world.url("connection_org_role", a), {"role": "viewer"})
    assert org_role.status_code == (expected(who, role_a, "owner") or 302)
    a.refresh_from_db()
    allowed_own = role_a == "owner" and who != "anonymous"
    assert (a.org_role == "viewer") == allowed_own

    member = world.tenancy.users["member"]
    add = client.post(
        world.url("connection_grant_set", a),
        {"subject": f"user:{member_id(member)}", "role": "viewer"},
    )
    assert add.status_code == (expected(who, role_a, "owner") or 302)
    assert ConnectionGrant.objects.filter(connection=a, user=member).exists() == allowed_own

    team = world.team
    change = client.post(
        world.url("connection_grant_set", a),
        {"subject_type": "team", "subject_id": team.public_id, "role": "owner"},
    )
    assert change.status_code == (expected(who, role_a, "owner") or 302)
    team_role = ConnectionGrant.objects.get(connection=a, team=team).role
    assert team_role == ("owner" if allowed_own else "editor")

    remove = client.post(
        world.url("connection_grant_remove", a),
        {"subject_type": "team", "subject_id": team.public_id},
    )
    assert remove.status_code == (expected(who, role_a, "owner") or 302)
    assert ConnectionGrant.objects.filter(connection=a, team=team).exists() != allowed_own

    confirm = client.get(world.url("connection_delete", a))
    assert confirm.status_code == (expected(who, role_a, "owner") or 200)
    delete = client.post(world.url("connection_delete", a))
    assert delete.status_code == (expected(who, role_a, "owner") or 302)
    assert Connection.objects.filter(pk=a.pk).exists() != allowed_own


@pytest.mark.parametrize("who", ["owner", "outsider", "viewer", "stranger"])
def test_organization_role_connection(world: World, who: str) -> None:
    """B is open to the organization as editor: members edit it, org viewers only read."""
    client = world.client(who)
    role_b = ROLES[who][1]
    assert client.get(world.url("connection_detail", world.b)).status_code == (
        expected(who, role_b, "viewer") or 200
    )
    rename = client.post(world.url("connection_rename", world.b), {"name": "B renamed"})
    assert rename.status_code == (expected(who, role_b, "editor") or 302)
    grant = client.post(
        world.url("connection_grant_set", world.b),
        {"subject": f"team:{world.team.public_id}", "role": "viewer"},
    )
    assert grant.status_code == (expected(who, role_b, "owner") or 302)


def test_another_projects_connection_is_404_for_its_owner(world: World) -> None:
    """The stranger owns the other organization, yet A is not theirs: 404 everywhere."""
    client = world.client("stranger")
    other = world.tenancy.other_project.slug
    for name in ("connection_detail", "connection_delete"):
        assert client.get(reverse(name, args=[other, world.a.public_id])).status_code == 404
    for name in ("connection_rename", "connection_check_now", "connection_grant_set"):
        assert client.post(reverse(name, args=[other, world.a.public_id])).status_code == 404


def test_wrong_methods_are_405(world: World) -> None:
    client = world.client("owner")
    a = world.a
    for name in (
        "connection_check_now",
        "connection_rename",
        "connection_status",
        "connection_refresh_tokens",
        "connection_grant_set",
        "connection_grant_remove",
        "connection_org_role",
    ):
        assert client.get(world.url(name, a)).status_code == 405, name
    assert client.get(world.url("connection_bulk")).status_code == 405
    assert client.post(world.url("connection_list")).status_code == 405
    assert client.post(world.url("connection_detail", a)).status_code == 405
    assert client.put(world.url("connection_delete", a)).status_code == 405
    assert Connection.objects.filter(pk=a.pk).exists()


def test_refused_writes_show_the_page_with_the_message(world: World) -> None:
    client = world.client("owner")
    blank = client.post(world.url("connection_rename", world.a), {"name": "   "})
    assert blank.status_code == 400 and "Give the connection a name." in blank.content.decode()
    bad = client.post(world.url("connection_status", world.a), {"status": "error"})
    assert bad.status_code == 400 and "disable or to enable" in bad.content.decode()
    world.a.refresh_from_db()
    assert world.a.name == "Alice CRM" and world.a.status == Status.ACTIVE
    not_oauth = client.post(world.url("connection_refresh_tokens", world.a), follow=True)
    assert "no OAuth tokens" in not_oauth.content.decode()
    confirm = client.get(world.url("connection_delete", world.a))
    assert 'data-testid="delete-confirm"' in confirm.content.decode()
    assert Connection.objects.filter(pk=world.a.pk).exists()
    gone = client.post(world.url("connection_delete", world.a), follow=True)
    assert "Deleted the connection Alice CRM." in gone.content.decode()
    assert AuditEntry.objects.filter(
        action="connection.deleted", target_id=str(world.a.pk)
    ).exists()


def test_timeline_lists_the_connections_own_history_paged(world: World, provider: Provider) -> None:
    client = world.client("owner")
    for n in range(30):
        client.post(world.url("connection_rename", world.a), {"name": f"Name {n}"})
    client.post(world.url("connection_rename", world.b), {"name": "Other one"})
    client.post(world.url("connection_check_now", world.a))
    url = world.url("connection_detail", world.a)
    with CaptureQueriesContext(db) as first_page:
        html = client.get(url).content.decode()
    timeline = html[html.index('data-testid="timeline"') :]
    assert timeline.count('data-testid="timeline-item"') == 25
    assert 'data-kind="health-healthy"' in timeline and "HTTP 200 from 127.0.0.1" in timeline
    assert "name: Name 29" in timeline and "Other one" not in timeline
    older = re.search(r'href="\?before=([^"#]+)#timeline" data-testid="timeline-older"', timeline)
    assert older is not None
    with CaptureQueriesContext(db) as second_page:
        rest = client.get(url + "?before=" + older.group(1)).content.decode()
    rest = rest[rest.index('data-testid="timeline"') :]
    assert 'data-testid="timeline-older"' not in rest
    assert "name: Name 0" in rest and "name: Name 29" not in rest
    assert len(second_page.captured_queries) <= len(first_page.captured_queries)
    assert client.get(url + "?before=yesterday").status_code == 200  # a bad cursor: newest


# --- Check now: HTMX and plain --------------------------------------------------------------


def test_check_now_over_htmx_swaps_the_health_card(world: World, provider: Provider) -> None:
    client = world.client("u_editor")
    response = client.post(world.url("connection_check_now", world.a), headers=HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div class="card mb-3" id="health-card"')
    assert "<html" not in html and "Checked just now: HTTP 200" in html
    assert 'data-testid="health-badge">Healthy<' in html
    assert 'hx-swap-oob="true"' in html  # the status badge at the top follows
    (seen,) = provider.calls("/me")
    assert seen.headers["Authorization"] == f"Bearer {SECRET}"
    assert SECRET not in html
    world.a.refresh_from_db()
    assert world.a.health == Health.HEALTHY and world.a.last_healthy_at is not None


def test_check_now_plain_post_redirects_with_a_message(world: World, provider: Provider) -> None:
    provider.routes["/me"] = Answer(401, {"error": "revoked"})
    client = world.client("owner")
    response = client.post(world.url("connection_check_now", world.a), follow=True)
    assert response.redirect_chain[-1][0] == world.url("connection_detail", world.a)
    html = response.content.decode()
    assert "needs re-authentication" in html and "HTTP 401" in html
    world.a.refresh_from_db()
    assert world.a.health == Health.NEEDS_REAUTH and world.a.status == Status.NEEDS_REAUTH


def test_check_now_is_403_for_a_viewer_over_htmx_too(world: World, provider: Provider) -> None:
    response = world.client("u_viewer").post(
        world.url("connection_check_now", world.a), headers=HTMX
    )
    assert response.status_code == 403
    assert provider.calls("/me") == []


# --- The Access tab over HTMX -----------------------------------------------------------------


def test_grants_over_htmx_return_the_access_panel(world: World) -> None:
    client = world.client("u_owner")
    url = world.url("connection_grant_set", world.a)
    member = world.tenancy.users["member"]
    response = client.post(
        url, {"subject": f"user:{member_id(member)}", "role": "editor"}, headers=HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="access-panel"') and "<html" not in html
    assert f'data-testid="grant-user-{member_id(member)}"' in html
    assert "member is now editor of Alice CRM" in html
    # Change the role through the row's select (subject_type + subject_id).
    response = client.post(
        url,
        {"subject_type": "user", "subject_id": member_id(member), "role": "viewer"},
        headers=HTMX,
    )
    assert response.status_code == 200
    assert ConnectionGrant.objects.get(connection=world.a, user=member).role == "viewer"
    # Refused input: 422 over HTMX with the panel and the message, 400 as a plain form.
    bad = client.post(
        url, {"subject": f"user:{member_id(member)}", "role": "emperor"}, headers=HTMX
    )
    assert bad.status_code == 422
    bad_html = bad.content.decode()
    assert bad_html.lstrip().startswith('<div id="access-panel"')
    assert "role must be viewer, editor or owner" in bad_html
    stranger = world.tenancy.users["stranger"]
    plain = client.post(url, {"subject": f"user:{member_id(stranger)}", "role": "viewer"})
    assert plain.status_code == 400
    assert "No member of this organization has that id" in plain.content.decode()
    assert "<html" in plain.content.decode()
    assert not ConnectionGrant.objects.filter(user=stranger).exists()
    # The organization-level role.
    org = client.post(world.url("connection_org_role", world.a), {"role": "editor"}, headers=HTMX)
    assert org.status_code == 200 and "Organization-level access is now: editor" in (
        org.content.decode()
    )
    assert (
        client.post(
            world.url("connection_org_role", world.a), {"role": "owner"}, headers=HTMX
        ).status_code
        == 422
    )
    # Remove over HTMX.
    removed = client.post(
        world.url("connection_grant_remove", world.a),
        {"subject_type": "user", "subject_id": member_id(member)},
        headers=HTMX,
    )
    assert removed.status_code == 200
    assert f'data-testid="grant-user-{member_id(member)}"' not in removed.content.decode()
    assert AuditEntry.objects.filter(
        action="connection.grant_removed", target_id=str(world.a.pk)
    ).exists()


def test_removing_ones_own_access_leaves_for_the_list(world: World) -> None:
    client = world.client("u_owner")
    me = world.tenancy.users["u_owner"]
    response = client.post(
        world.url("connection_grant_remove", world.a),
        {"subject_type": "user", "subject_id": member_id(me)},
        headers=HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == world.url("connection_list")


def test_access_tab_over_htmx_is_the_tab_partial(world: World) -> None:
    response = world.client("owner").get(
        world.url("connection_detail", world.a) + "?tab=access",
        headers={**HTMX, "HX-Target": "connection-tab"},
    )
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith('<div id="connection-tab"')
    assert "Organization-level role" in html and "<html" not in html


# --- Secrets never appear --------------------------------------------------------------------


def test_secrets_appear_nowhere_only_their_masks(world: World, provider: Provider) -> None:
    oauth_profile = make_profile(
        world.tenancy.project,
        "oauth_crm",
        "oauth",
        auth_type="oauth2",
        required_fields=(),
        base_url=provider.url,
        health_path="/me",
    )
    oauth = make_connection(
        oauth_profile,
        "olivia-9",
        config={},
        tokens={"access_token": ACCESS_TOKEN, "refresh_token": REFRESH_TOKEN, "scope": "read"},
    )
    client = world.client("owner")
    pages = {
        "list": client.get(world.url("connection_list")),
        "list-htmx": client.get(world.url("connection_list") + "?q=ali", headers=HTMX),
        "detail": client.get(world.url("connection_detail", world.a)),
        "access": client.get(world.url("connection_detail", world.a) + "?tab=access"),
        "oauth": client.get(world.url("connection_detail", oauth)),
        "check-now": client.post(world.url("connection_check_now", world.a), headers=HTMX),
        "oauth-check": client.post(world.url("connection_check_now", oauth), headers=HTMX),
        "grants": client.post(
            world.url("connection_grant_set", world.a),
            {"subject": f"team:{world.team.public_id}", "role": "viewer"},
            headers=HTMX,
        ),
        "bulk-confirm": client.post(
            world.url("connection_bulk"),
            {"action": "delete", "ids": [world.a.public_id, oauth.public_id]},
        ),
    }
    for name, response in pages.items():
        assert response.status_code == 200, name
        html = response.content.decode()
        for secret in (SECRET, ACCESS_TOKEN, REFRESH_TOKEN):
            assert secret not in html, (name, secret)
            assert secret[4:-4] not in html, (name, secret)
    assert mask(SECRET) in pages["detail"].content.decode()
    oauth_html = pages["oauth"].content.decode()
    assert mask(ACCESS_TOKEN) in oauth_html and mask(REFRESH_TOKEN) in oauth_html
    assert "Refresh tokens" in oauth_html
    # The health check did send the token to the provider (it is used, just never shown).
    assert any(s.headers.get("Authorization") == f"Bearer {ACCESS_TOKEN}" for s in provider.seen)


def test_refresh_tokens_upstream_failure_is_a_message(world: World, provider: Provider) -> None:
    provider.routes["/token"] = Answer(503, {"error": "down"})
    profile = make_profile(
        world.tenancy.project,
        "oauth_crm",
        "oauth",
        auth_type="oauth2",
        required_fields=(),
        token_url=f"{provider.url}/token",
        setup_fields=("client_id", "client_secret"),
        setup={"client_id": "cid", "client_secret": "csecret_0123456789"},
    )
    oauth = make_connection(
        profile,
        "olivia-9",
        config={},
        tokens={"access_token": ACCESS_TOKEN, "refresh_token": REFRESH_TOKEN},
    )
    Connection.objects.filter(pk=oauth.pk).update(org_role="editor")
    viewer = world.client("viewer").post(world.url("connection_refresh_tokens", oauth))
    assert viewer.status_code == 403  # an organization viewer never writes
    response = world.client("owner").post(
        world.url("connection_refresh_tokens", oauth), follow=True
    )
    html = response.content.decode()
    assert response.status_code == 200 and "HTTP 503" in html and "tokens were kept" in html
    assert len(provider.calls("/token")) == 1
    for secret in (ACCESS_TOKEN, REFRESH_TOKEN, "csecret_0123456789"):
        assert secret not in html
    provider.routes["/token"] = Answer(
        200, {"access_token": "at_new_token_0123456789", "token_type": "Bearer", "expires_in": 3600}
    )
    done = world.client("owner").post(world.url("connection_refresh_tokens", oauth), follow=True)
    assert "The OAuth tokens were refreshed." in done.content.decode()


# --- Filters, search, sort, keyset pages --------------------------------------------------------


@pytest.fixture
def seven(tenancy: Tenancy, settings: Any) -> list[Connection]:
    settings.CONNECTIONS_PER_PAGE_CHOICES = (3, 25)
    first = make_profile(tenancy.project, "acme_crm", "production")
    second = make_profile(tenancy.project, "beta_desk", "support desk", title="Beta Desk")
    names = ["Gina", "Ada", "Finn", "Bea", "Eve", "Cid", "Dan"]
    rows = []
    for index, name in enumerate(names):
        profile = first if index % 2 == 0 else second
        rows.append(
            make_connection(
                profile,
                f"user-{index}",
                name=name,
                email=f"{name.lower()}@shop.example",
                config={"api_key": f"sk_{index:02d}_abcdefghijkl"},
            )
        )
    update_connections(Connection.objects.filter(pk=rows[1].pk), status=Status.DISABLED)
    update_connections(Connection.objects.filter(pk=rows[2].pk), health=Health.UNHEALTHY)
    return rows


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.content[:500]
    return names_of(response.content.decode())


def names_of(html: str) -> list[str]:
    return re.findall(
        r'<a class="fw-semibold" href="/p/[^"]+/connections/[0-9a-f-]{36}/">([^<]+)</a>', html
    )


def test_filters_search_and_sort(tenancy: Tenancy, seven: list[Connection]) -> None:
    client = tenancy.client("owner")
    url = reverse("connection_list", args=[tenancy.project.slug])
    assert names(client.get(url, {"per_page": "3"})) == ["Dan", "Cid", "Eve"]
    assert names(client.get(url, {"per_page": "25"})) == [
        "Dan", "Cid", "Eve", "Bea", "Finn", "Ada", "Gina"
    ]  # fmt: skip
    assert names(client.get(url, {"sort": "name", "dir": "asc", "per_page": "25"})) == sorted(
        c.name for c in seven
    )
    oldest = client.get(url, {"sort": "created_at", "dir": "asc", "per_page": "3"})
    assert names(oldest) == ["Gina", "Ada", "Finn"]
    assert names(client.get(url, {"q": "finn"})) == ["Finn"]
    assert names(client.get(url, {"q": "user-4"})) == ["Eve"]
    assert names(client.get(url, {"q": "bea@shop"})) == ["Bea"]
    assert names(client.get(url, {"connector": "beta_desk", "per_page": "25"})) == [
        "Cid", "Bea", "Ada"
    ]  # fmt: skip
    profile_id = seven[0].profile.public_id
    assert names(client.get(url, {"profile": str(profile_id), "per_page": "25"})) == [
        "Dan", "Eve", "Finn", "Gina"
    ]  # fmt: skip
    assert names(client.get(url, {"status": "disabled"})) == ["Ada"]
    assert names(client.get(url, {"health": "unhealthy"})) == ["Finn"]
    assert names(client.get(url, {"version": "1.0.0", "q": "dan"})) == ["Dan"]
    assert names(client.get(url, {"version": "9.9.9"})) == []
    counted = client.get(url, {"connector": "acme_crm"}).content.decode()
    assert re.search(r'data-testid="connection-count">4 matching connections<', counted)
    assert re.search(
        r'data-testid="connection-count">7 connections<', client.get(url).content.decode()
    )


def test_keyset_pages_forward_and_back(tenancy: Tenancy, seven: list[Connection]) -> None:
    client = tenancy.client("owner")
    url = reverse("connection_list", args=[tenancy.project.slug])
    seen: list[str] = []
    pages = []
    query = {"sort": "name", "dir": "asc", "status": "active", "per_page": "3"}
    response = client.get(url, query)
    while True:
        seen += names(response)
        html = response.content.decode()
        pages.append(html)
        found = re.search(r'rel="next" href="([^"]+)"', html)
        if not found:
            break
        response = client.get(url + found.group(1).replace("&amp;", "&"))
    assert seen == ["Bea", "Cid", "Dan", "Eve", "Finn", "Gina"]  # Ada is disabled
    assert len(pages) == 2
    back = re.search(r'rel="prev" href="([^"]+)"', pages[-1])
    assert back is not None and "status=active" in back.group(1)
    assert names(client.get(url + back.group(1).replace("&amp;", "&"))) == ["Bea", "Cid", "Dan"]
    # Over HTMX the pager answers with the table region only.
    partial = client.get(url, query, headers=HTMX)
    assert partial.content.decode().lstrip().startswith('<div id="connections-table"')


@pytest.mark.parametrize("sort", ["created_at", "updated_at", "name"])
@pytest.mark.parametrize("direction", ["desc", "asc"])
def test_a_members_pages_merge_open_and_granted_rows(
    world: World, sort: str, direction: str, settings: Any
) -> None:
    """A member's list reads the rows open to the organization and the granted ones apart
    (for time sorts) and merges them: walked forward then back in pages of two, every row the
    member may see comes once, in the order of the one query over the whole scope, ties
    included."""
    from datetime import timedelta

    from django.utils import timezone

    settings.CONNECTIONS_PER_PAGE_CHOICES = (3, 25)
    tie = timezone.now() - timedelta(days=3)
    for n in range(5):
        open_row = make_connection(world.profile, f"open-{n}", name=f"Open {n}")
        granted = make_connection(world.profile, f"granted-{n}", name=f"Granted {n}")
        hidden = make_connection(world.profile, f"hidden-{n}", name=f"Hidden {n}")
        ConnectionGrant.objects.create(
            connection=granted,
            subject_type=SubjectType.USER,
            user=world.tenancy.users["u_viewer"],
            role=GrantRole.VIEWER,
        )
        stamp = tie if n % 2 else tie - timedelta(minutes=n)  # equal times: the id decides
        Connection.objects.filter(pk=open_row.pk).update(
            org_role="viewer", created_at=stamp, updated_at=stamp
        )
        Connection.objects.filter(pk__in=[granted.pk, hidden.pk]).update(
            created_at=stamp, updated_at=stamp
        )
    sign = "-" if direction == "desc" else ""
    expected = [
        c.name
        for c in Connection.objects.filter(
            Q(org_role="viewer") | Q(org_role="editor") | Q(grants__user__username="u_viewer")
        )
        .distinct()
        .order_by(f"{sign}{sort}", f"{sign}id")
    ]
    assert len(expected) == 12  # A (granted), B (org editor), 5 open, 5 granted
    client = world.client("u_viewer")
    url = reverse("connection_list", args=[world.slug])
    response = client.get(url, {"sort": sort, "dir": direction, "per_page": "3"})
    seen: list[str] = []
    pages = []
    while True:
        seen += names(response)
        pages.append(response.content.decode())
        found = re.search(r'rel="next" href="([^"]+)"', pages[-1])
        if not found:
            break
        response = client.get(url + found.group(1).replace("&amp;", "&"))
    assert seen == expected
    back: list[str] = []
    html = pages[-1]
    while found := re.search(r'rel="prev" href="([^"]+)"', html):
        response = client.get(url + found.group(1).replace("&amp;", "&"))
        back = names(response) + back
        html = response.content.decode()
    assert back == expected[: len(back)] and len(back) == len(expected) - len(names_of(pages[-1]))


def test_the_count_is_capped(
    tenancy: Tenancy, seven: list[Connection], monkeypatch: pytest.MonkeyPatch
) -> None:
    from connections.selectors import listing

    monkeypatch.setattr(listing, "COUNT_CAP", 5)
    url = reverse("connection_list", args=[tenancy.project.slug])
    # What the counters count (connector, profile, status, health, version) is exact at any
    # size for those who see every connection.
    html = tenancy.client("owner").get(url)
    assert 'data-testid="connection-count">7 connections<' in html.content.decode()
    html = tenancy.client("owner").get(url + "?status=active&connector=beta_desk")
    assert 'data-testid="connection-count">2 matching connections<' in html.content.decode()
    html = tenancy.client("owner").get(url + "?health=unknown")
    assert 'data-testid="connection-count">6 matching connections<' in html.content.decode()
    # A search counts only its page: a full page of 3 says "3+", a partial one is exact.
    html = tenancy.client("owner").get(url + "?q=end&per_page=3")
    assert 'data-testid="connection-count">3+ matching connections<' in html.content.decode()
    html = tenancy.client("owner").get(url + f"?q={seven[0].origin_owner_id}&per_page=3")
    assert 'data-testid="connection-count">1 matching connection<' in html.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        {"status": "sleeping"},
        {"health": "great"},
        {"sort": "email"},
        {"dir": "up"},
        {"profile": "abc"},
        {"per_page": "7"},
        {"after": "not-a-cursor"},
    ],
)
def test_bad_filter_input_is_400_with_a_message(
    tenancy: Tenancy, seven: list[Connection], query: dict[str, str]
) -> None:
    client = tenancy.client("owner")
    url = reverse("connection_list", args=[tenancy.project.slug])
    plain = client.get(url, query)
    assert plain.status_code == 400
    assert 'data-testid="filter-error"' in plain.content.decode()
    assert "<html" in plain.content.decode()
    htmx = client.get(url, query, headers=HTMX)
    assert htmx.status_code == 422
    assert htmx.content.decode().lstrip().startswith('<div id="connections-table"')


# --- Bulk actions ------------------------------------------------------------------------------


def test_bulk_skips_rows_the_user_may_not_change(world: World) -> None:
    client = world.client("u_editor")  # editor on A and B; C is invisible
    other_profile = make_profile(world.tenancy.other_project)
    foreign = make_connection(other_profile, "foreign-1")
    ConnectionGrant.objects.create(
        connection=world.b,
        subject_type=SubjectType.USER,
        user=world.tenancy.users["u_editor"],
        role=GrantRole.VIEWER,
    )  # the org role (editor) still wins on B
    response = client.post(
        world.url("connection_bulk"),
        {
            "action": "disable",
            "ids": [world.a.public_id, world.b.public_id, world.c.public_id, foreign.public_id],
        },
        follow=True,
    )
    html = response.content.decode()
    assert "Disabled 2 connections." in html and "2 connections not found." in html
    statuses = dict(Connection.objects.values_list("origin_owner_id", "status"))
    assert statuses["alice-1"] == statuses["bob-2"] == Status.DISABLED
    assert statuses["carol-3"] == statuses["foreign-1"] == Status.ACTIVE

    viewer = world.client("u_viewer")  # viewer on A, editor on B (org role)
    response = viewer.post(
        world.url("connection_bulk"), {"action": "enable", "ids": [world.a.public_id, world.b.public_id]},
        follow=True,
    )  # fmt: skip
    assert "Enabled 1 connection. Skipped 1 connection you may not change." in (
        response.content.decode()
    )
    world.a.refresh_from_db()
    world.b.refresh_from_db()
    assert world.a.status == Status.DISABLED and world.b.status == Status.ACTIVE


def test_bulk_delete_asks_first_and_needs_owner(world: World) -> None:
    client = world.client("u_owner")  # owner of A, editor of B
    ids = [world.a.public_id, world.b.public_id]
    confirm = client.post(world.url("connection_bulk"), {"action": "delete", "ids": ids})
    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert 'data-testid="bulk-delete-confirm"' in html and "Delete 1 connection?" in html
    assert "1 selected connection will be skipped" in html
    assert Connection.objects.filter(public_id__in=ids).count() == 2
    done = client.post(
        world.url("connection_bulk"),
        {"action": "delete", "ids": ids, "confirmed": "yes"},
        follow=True,
    )
    assert "Deleted 1 connection. Skipped 1 connection you may not change." in (
        done.content.decode()
    )
    assert not Connection.objects.filter(pk=world.a.pk).exists()
    assert Connection.objects.filter(pk=world.b.pk).exists()


def test_bulk_health_check_only_writable_rows(world: World, provider: Provider) -> None:
    client = world.client("u_viewer")  # viewer on A, editor on B
    response = client.post(
        world.url("connection_bulk"),
        {"action": "check_health", "ids": [world.a.public_id, world.b.public_id]},
        follow=True,
    )
    html = response.content.decode()
    assert "Checked 1 connection: 1 healthy." in html and "Skipped 1 connection" in html
    assert len(provider.calls("/me")) == 1
    world.a.refresh_from_db()
    world.b.refresh_from_db()
    assert world.a.health == Health.UNKNOWN and world.b.health == Health.HEALTHY


def test_bulk_select_all_on_page_and_limits(world: World) -> None:
    client = world.client("owner")
    url = world.url("connection_bulk")
    next_url = world.url("connection_list") + "?status=active"
    response = client.post(
        url,
        {
            "action": "disable",
            "all_on_page": "1",
            "page_ids": [world.a.public_id, world.b.public_id],
            "next": next_url,
        },
    )
    assert response.status_code == 302 and response["Location"] == next_url
    assert set(
        Connection.objects.filter(status=Status.DISABLED).values_list("public_id", flat=True)
    ) == {
        world.a.public_id,
        world.b.public_id,
    }
    too_many = client.post(url, {"action": "enable", "ids": [uuid.uuid4() for _ in range(201)]})
    assert too_many.status_code == 400 and "at most 200" in too_many.content.decode()
    assert client.post(url, {"action": "explode", "ids": [world.a.public_id]}).status_code == 400
    assert client.post(url, {"action": "enable"}).status_code == 400
    assert client.post(url, {"action": "enable", "ids": ["x"]}).status_code == 400
    elsewhere = client.post(
        url, {"action": "enable", "ids": [world.a.public_id], "next": "https://evil.example/"}
    )
    assert elsewhere["Location"] == world.url("connection_list")
    assert client.post(url, {"action": "enable", "ids": [world.c.public_id]}).status_code == 302
    anonymous = world.client("anonymous").post(
        url, {"action": "delete", "ids": [world.a.public_id]}
    )
    assert anonymous.status_code == 302 and Connection.objects.filter(pk=world.a.pk).exists()


# --- Query counts ------------------------------------------------------------------------------


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(db) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


def _measure(world: World, who: str) -> dict[str, int]:
    client = world.client(who)
    list_url = world.url("connection_list")
    first = client.get(list_url, {"per_page": "3"}).content.decode()
    deep = re.search(r'rel="next" href="([^"]+)"', first)
    assert deep is not None
    client.get(world.url("connection_detail", world.a))  # its versions' labels, held per process
    return {
        "first": _queries(client, list_url),
        "filtered": _queries(client, list_url + "?status=active&q=user&sort=name&dir=asc"),
        "cursor": _queries(client, list_url + deep.group(1).replace("&amp;", "&")),
        "detail": _queries(client, world.url("connection_detail", world.a)),
        "access": _queries(client, world.url("connection_detail", world.a) + "?tab=access"),
    }


@pytest.mark.parametrize("who", ["owner", "teamed"])
def test_query_counts_do_not_grow_with_the_data(world: World, who: str, settings: Any) -> None:
    settings.CONNECTIONS_PER_PAGE_CHOICES = (3, 25, 100)
    org = world.tenancy.organization
    for n in range(4):
        c = make_connection(world.profile, f"user-{n}")
        Connection.objects.filter(pk=c.pk).update(org_role="viewer")
    small = _measure(world, who)
    extra_team = make_team(org, "More", world.tenancy.users["teamed"])
    for n in range(40):
        c = make_connection(world.profile, f"more-user-{n}")
        ConnectionGrant.objects.create(
            connection=c, subject_type=SubjectType.TEAM, team=extra_team, role=GrantRole.VIEWER
        )
        extra = make_member(org, Role.MEMBER)
        ConnectionGrant.objects.create(
            connection=world.a, subject_type=SubjectType.USER, user=extra, role=GrantRole.VIEWER
        )
    ConnectionGrant.objects.create(
        connection=world.a, subject_type=SubjectType.TEAM, team=extra_team, role=GrantRole.OWNER
    )
    large = _measure(world, who)
    assert large == small
    # The connection page's budget: the session's user, the project, the connection, the
    # timeline's three sources, an open migration, the navigation, the latest
    # re-authentication link and the link panel's profiles (a member adds their grants).
    assert small["detail"] <= {"owner": 10, "teamed": 12}[who], small


def test_connection_page_reads_its_version_from_the_per_process_layer(tenancy: Tenancy) -> None:
    """The page shows the resolved version's number, the connector's title as that version
    words it, and its config field labels, without loading the version: a warm page reads
    them from the per-process layer (connections.selectors.version_labels, config_labels)."""
    profile = make_profile(tenancy.project, version="1.2.0", title="Acme Sales")
    c = make_connection(profile, "a", config={"api_key": "sk_live_0001_abcdefghijkl"})
    client = tenancy.client("owner")
    url = reverse("connection_detail", args=[tenancy.project.slug, c.public_id])
    client.get(url)
    with CaptureQueriesContext(db) as queries:
        html = client.get(url).content.decode()
    assert not [q["sql"] for q in queries if "connectors_connectorversion" in q["sql"]]
    version = html[html.index('data-testid="resolved-version"') :]
    assert version[: version.index("</dd>")].count(">1.2.0</a>") == 1
    assert html.count("Acme Sales") == 2  # the header and the overview's connector line
    credentials = html[html.index('data-testid="credentials-card"') :]
    credentials = credentials[: credentials.index("</table>")]
    assert ">Api_Key</th>" in credentials and mask("sk_live_0001_abcdefghijkl") in credentials


def test_version_filter_and_labels_follow_a_publish(tenancy: Tenancy) -> None:
    """The list holds its version choices in the per-process layer: a publish shows on the
    next request (the row keeps the version it resolved to until it is used)."""
    profile = make_profile(tenancy.project, version="1.0.0")
    make_connection(profile, "a")
    client = tenancy.client("owner")
    url = reverse("connection_list", args=[tenancy.project.slug])

    def choices_and_cells() -> tuple[list[str], list[str]]:
        html = client.get(url).content.decode()
        select = re.search(r'<select[^>]+id="filter-version".*?</select>', html, re.S)
        assert select is not None
        cells = re.findall(r'/versions/\d+/">([^<]+)</a></td>', html)
        return re.findall(r'<option value="([^"]+)"', select.group(0)), cells

    assert choices_and_cells() == (["1.0.0"], ["1.0.0"])
    assert choices_and_cells() == (["1.0.0"], ["1.0.0"])  # from the per-process layer
    connector_version_push(
        actor=SYSTEM,
        project=tenancy.project,
        files=[("c.yaml", connector_yaml(version="1.1.0", actions=("list_contacts", "x")))],
        acknowledge_breaking=True,
    )
    assert choices_and_cells() == (["1.1.0", "1.0.0"], ["1.0.0"])


# --- Version adoption chart -----------------------------------------------------------------------


def test_adoption_chart_on_connector_and_profile_pages(tenancy: Tenancy) -> None:
    profile = make_profile(tenancy.project, version="1.0.0")
    make_connection(profile, "a")
    make_connection(profile, "b")
    connector_version_push(
        actor=SYSTEM,
        project=tenancy.project,
        files=[("c.yaml", connector_yaml(version="1.1.0", actions=("list_contacts", "x")))],
        acknowledge_breaking=True,
    )
    make_connection(profile, "c")
    cache.clear()
    client = tenancy.client("owner")
    slug = tenancy.project.slug
    for url in (
        reverse("connector_detail", args=[slug, "acme_crm"]),
        reverse("profile_detail", args=[slug, profile.public_id]),
    ):
        response = client.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        svg = re.search(r"<svg class=\"adoption-chart\".*?</svg>", html, re.S)
        assert svg is not None, url
        chart = svg.group(0)
        assert 'role="img"' in chart and "<title" in chart
        bars = re.findall(r'data-version="([^"]+)" data-count="(\d+)"', chart)
        # What serves each connection now: the profile's resolution, 1.1.0 for all three
        # (issue 30: the chart counted the version that last served each one).
        assert bars == [("1.1.0", "3")]
        assert "3 · 100%" in chart
        assert "1.1.0: 3 connections (100%)" in chart  # the accessible description
        last = re.search(r'data-testid="adoption-last-served">(.*?)</p>', html, re.S)
        assert last is not None and "Last served" in last.group(1)
        assert re.findall(r'text-nowrap">([^<]+)<', last.group(1)) == ["1.1.0: 1", "1.0.0: 2"]
        assert "style=" not in chart
        assert '<div class="visually-hidden"><table>' in html  # a table is never 1px wide
        assert html.count('<svg class="adoption-chart"') == 1
        head_title = re.search(r"<title>(.*?)</title>", html, re.S)
        assert head_title is not None and "<" not in head_title.group(1)
    profiles = client.get(reverse("profile_list", args=[slug])).content.decode()
    assert re.search(rf'\?profile={profile.public_id}">3</a>', profiles)


def test_adoption_and_profile_counts_follow_the_readers_access(tenancy: Tenancy) -> None:
    """A member counts only the connections they may see: the chart, the profiles list and
    the connection list never disagree."""
    from connections.services.connections import grant_set

    profile = make_profile(tenancy.project)
    mine = make_connection(profile, "mine")
    make_connection(profile, "hidden")
    cache.clear()
    slug = tenancy.project.slug
    member = tenancy.client("member")
    empty = member.get(reverse("profile_detail", args=[slug, profile.public_id])).content
    assert b'data-testid="adoption-empty"' in empty
    grant_set(
        actor=SYSTEM,
        connection=mine,
        subject_type="user",
        subject_id=member_id(tenancy.users["member"]),
        role="viewer",
    )
    detail = member.get(reverse("profile_detail", args=[slug, profile.public_id])).content.decode()
    assert re.findall(r'data-version="([^"]+)" data-count="(\d+)"', detail) == [("1.0.0", "1")]
    listing = member.get(reverse("profile_list", args=[slug])).content.decode()
    owner_listing = tenancy.client("owner").get(reverse("profile_list", args=[slug])).content
    assert "?profile=" in listing
    counts = re.findall(r'\?profile=[0-9a-f-]{36}"[^>]*>\s*(\d+)', listing)
    owner_counts = re.findall(r'\?profile=[0-9a-f-]{36}"[^>]*>\s*(\d+)', owner_listing.decode())
    assert counts == ["1"] and owner_counts == ["2"], (counts, owner_counts)


def test_adoption_chart_empty_state(tenancy: Tenancy) -> None:
    profile = make_profile(tenancy.project)
    client = tenancy.client("owner")
    html = client.get(
        reverse("profile_detail", args=[tenancy.project.slug, profile.public_id])
    ).content
    assert b'data-testid="adoption-empty"' in html and b"<svg" not in html
    html = client.get(reverse("connector_detail", args=[tenancy.project.slug, "acme_crm"])).content
    assert b'data-testid="adoption-empty"' in html


def _streamed(response: Any) -> str:
    return b"".join(response.streaming_content).decode()


def test_csv_export_of_the_filtered_list(world: World) -> None:
    """What the reader may see, with the list's filters, streamed, formula-safe."""
    Connection.objects.filter(pk=world.c.pk).update(name="=HYPERLINK(evil)", status="error")
    owner = world.client("owner")
    response = owner.get(world.url("connection_export"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response.streaming and "attachment;" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(_streamed(response))))
    assert rows[0][:3] == ["connection_id", "name", "origin_owner_id"]
    assert sorted(r[2] for r in rows[1:]) == ["alice-1", "bob-2", "carol-3"]
    assert "'=HYPERLINK(evil)" in [r[1] for r in rows]
    only = owner.get(world.url("connection_export") + "?status=error")
    body = _streamed(only)
    assert "carol-3" in body and "alice-1" not in body
    # A member sees what they were granted only: not C.
    mine = _streamed(world.client("u_owner").get(world.url("connection_export")))
    assert "alice-1" in mine and "carol-3" not in mine
    assert (
        world.client("owner").get(world.url("connection_export") + "?status=nope").status_code
        == 400
    )
    assert world.client("stranger").get(world.url("connection_export")).status_code == 404
    html = owner.get(world.url("connection_list") + "?status=error").content.decode()
    assert 'connections/export.csv?status=error"' in html
    # In the list's sort (issue 30: the export ignored it), across batches.
    from connections.selectors import listing

    listing.EXPORT_BATCH, batch = 2, listing.EXPORT_BATCH
    try:
        for direction, expected in (("asc", ["Alice CRM", "Bob CRM"]), ("desc", ["Bob CRM"])):
            url = world.url("connection_export") + f"?sort=name&dir={direction}"
            names = [r[1] for r in csv.reader(io.StringIO(_streamed(owner.get(url))))][1:]
            assert len(names) == 3
            assert names == sorted(names, reverse=direction == "desc"), names
            assert [n for n in names if n in expected] == expected
    finally:
        listing.EXPORT_BATCH = batch


def test_select_all_matching_runs_in_the_background(
    world: World, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from django.tasks import default_task_backend

    from connections.models import BulkRun
    from connections.tasks import run_bulk_action

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    for n in range(5):
        make_connection(world.profile, f"extra-{n}", name=f"Extra {n}")
    client = world.client("u_editor")  # may change A (editor) and B (organization editor)
    listing = client.get(world.url("connection_list")).content.decode()
    assert 'data-testid="select-matching"' in listing and 'name="matching_query"' in listing
    owner = world.client("owner")
    with django_capture_on_commit_callbacks(execute=True):
        started = owner.post(
            world.url("connection_bulk"),
            {"all_matching": "1", "action": "disable", "matching_query": "q=extra"},
        )
    run = BulkRun.objects.get()
    assert started.status_code == 302 and run.total == 5 and run.active
    page = owner.get(started["Location"]).content.decode()
    assert 'data-state="running"' in page and 'hx-trigger="every 1s"' in page
    assert "0 of 5 gone through" in page
    assert world.client("admin").get(started["Location"]).status_code == 404  # not theirs
    (queued,) = default_task_backend.results  # type: ignore[attr-defined]
    run_bulk_action.call(*queued.args)
    page = owner.get(started["Location"], headers={"HX-Request": "true"}).content.decode()
    assert 'data-state="done"' in page and "Disabled 5 connections." in page
    assert "hx-trigger" not in page
    assert (
        Connection.objects.filter(origin_owner_id__startswith="extra-", status="disabled").count()
        == 5
    )
    assert Connection.objects.get(pk=world.a.pk).status != "disabled"
    refused = owner.post(
        world.url("connection_bulk"),
        {"all_matching": "1", "action": "delete", "matching_query": ""},
        follow=True,
    )
    assert "delete a page at a time" in refused.content.decode()


def test_a_matching_health_check_names_its_action_and_shows_failure_in_red(
    world: World,
    provider: Provider,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Issue 30: the heading read "Check_health on 70 matching connections" and a run where
    every check failed showed a green bar."""
    from django.tasks import default_task_backend

    from connections.tasks import run_bulk_action

    provider.routes["/me"] = Answer(503, {"error": "down"})
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    make_connection(world.profile, "dora-4", name="Dora CRM")
    Connection.objects.filter(origin_owner_id="dora-4").update(status="disabled")
    counters.recount()
    owner = world.client("owner")
    with django_capture_on_commit_callbacks(execute=True):
        started = owner.post(
            world.url("connection_bulk"),
            {"all_matching": "1", "action": "check_health", "matching_query": ""},
        )
    (queued,) = default_task_backend.results  # type: ignore[attr-defined]
    run_bulk_action.call(*queued.args)
    page = owner.get(started["Location"]).content.decode()
    assert "Check health on 4 matching connections" in page and "Check_health" not in page
    assert "Checked 3 connections: 3 unhealthy. Left 1 disabled connection alone" in page
    assert 'data-outcome="all"' in page and "bulk-run-all-failed" in page


def test_column_headers_sort_through_the_keyset_sorts(world: World) -> None:
    client = world.client("owner")
    html = client.get(world.url("connection_list") + "?status=active").content.decode()
    name = re.search(r'<a href="([^"]+)" [^>]*data-testid="sort-name"', html)
    assert name is not None and "sort=name" in name.group(1) and "dir=asc" in name.group(1)
    assert "status=active" in name.group(1)
    sorted_page = client.get(name.group(1).replace("&amp;", "&")).content.decode()
    owners = re.findall(r'data-testid="connection-row" data-owner="([^"]+)"', sorted_page)
    assert owners == ["alice-1", "bob-2", "carol-3"]
    assert 'aria-sort="ascending"' in sorted_page
    again = re.search(r'<a href="([^"]+)" [^>]*data-testid="sort-name"', sorted_page)
    assert again is not None and "dir=desc" in again.group(1)


def test_column_choice_is_remembered_per_user(world: World) -> None:
    from projects.models import UserPreference

    client = world.client("owner")
    url = world.url("connection_list")
    assert "<th>Profile</th>" in client.get(url).content.decode()
    saved = client.post(
        world.url("connection_columns"), {"columns": ["status", "health"], "next": url}
    )
    assert saved.status_code == 302 and saved["Location"] == url
    html = client.get(url).content.decode()
    assert "<th>Profile</th>" not in html and "<th>Status</th>" in html
    assert UserPreference.objects.get(user=world.tenancy.users["owner"]).columns == {
        "connections": ["status", "health"]
    }
    # Another session of the same user (a new login) keeps the choice; another user does not.
    again = Client()
    again.force_login(world.tenancy.users["owner"])
    assert "<th>Profile</th>" not in again.get(url).content.decode()
    assert "<th>Profile</th>" in world.client("admin").get(url).content.decode()
    bad = client.post(world.url("connection_columns"), {"columns": ["secrets"], "next": url})
    assert bad.status_code == 302
    assert UserPreference.objects.get(user=world.tenancy.users["owner"]).columns == {
        "connections": ["status", "health"]
    }


def test_last_used_column_in_the_users_time_zone(world: World) -> None:
    from datetime import UTC, datetime

    Connection.objects.filter(pk=world.a.pk).update(
        last_used_at=datetime(2026, 3, 4, 22, 30, tzinfo=UTC)
    )
    Connection.objects.filter(pk=world.b.pk).update(last_used_at=None)
    client = world.client("owner")
    url = world.url("connection_list")
    client.post(reverse("user_time_zone"), {"time_zone": "Asia/Tokyo", "next": url})
    html = client.get(url).content.decode()
    assert 'data-testid="sort-used">Last used <' in html
    cells = dict(
        re.findall(
            r'data-owner="([^"]+)">(?:(?!</tr>).)*?data-testid="last-used"[^>]*>([^<]*)<',
            html,
            re.S,
        )
    )
    # 22:30 UTC is the next morning in Tokyo; a connection never used says so.
    assert cells["alice-1"] == "2026-03-05 07:30 JST" and cells["bob-2"] == "never"
    assert cells["carol-3"].endswith(" JST")
    assert 'title="2026-03-05T07:30:00+09:00"' in html
    # Like every optional column, the user can hide it.
    client.post(world.url("connection_columns"), {"columns": ["status"], "next": url})
    hidden = client.get(url).content.decode()
    assert 'data-testid="sort-used"' not in hidden and 'data-testid="last-used"' not in hidden
