"""Migration pages: the permission matrix on every page and action, starting a migration by
hand and from a breaking release's change report, progress figures, the pending accounts
table (filters, search, sort, keyset pages, notice state, reconnect links), notices, CSV
export, completion, the banners on profile and connection pages, and query counts."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import connection as db
from django.http import StreamingHttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from connections.models import Connection, ConnectSession, Status
from connectors.models import ConnectorVersion
from profiles.models import ConnectorProfile
from profiles.services import connector_version_push, profile_create
from projects.crypto import decrypt_json
from projects.models import AuditEntry
from projects.services import Actor
from rollouts.models import MigrationNotice, ProfileMigration
from rollouts.services import migration_complete, migration_create, migration_link
from tests.conftest import WHO, Tenancy
from tests.factories import connector_yaml, make_connection, make_profile, update_connections

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
HTMX = {"HX-Request": "true"}
SECRET = "csecret-0123456789-very-secret"
ALLOWED = ("owner", "admin")


@pytest.fixture(autouse=True)
def _fresh_cache() -> Any:
    cache.clear()
    yield
    cache.clear()


@dataclass
class World:
    tenancy: Tenancy
    old: ConnectorProfile  # acme_crm on 1.x.x, with setup fields and four accounts
    spare: ConnectorProfile  # acme_crm on 1.x.x, no accounts
    new: ConnectorProfile  # acme_crm on 2.x.x
    other: ConnectorProfile  # another connector
    v2: ConnectorVersion  # custom acme_crm 2.0.0: oauth2, a new required setup field
    accounts: list[Connection]

    @property
    def slug(self) -> str:
        return self.tenancy.project.slug

    def client(self, who: str = "owner") -> Client:
        return self.tenancy.client(who)

    def url(self, name: str, *args: Any) -> str:
        return reverse(name, args=[self.slug, *args])

    def start_url(self, version: ConnectorVersion | None = None) -> str:
        version = version or self.v2
        return self.url("migration_start", "acme_crm", version.pk)

    def migrate(self, **kw: Any) -> ProfileMigration:
        kw.setdefault("title", "Move to 2.x")
        return migration_create(
            actor=SYSTEM,
            project=self.tenancy.project,
            from_profile=self.old,
            to_profile=self.new,
            **kw,
        )


def push(project: Any, version: str, **kw: Any) -> ConnectorVersion:
    connector_version_push(
        actor=SYSTEM,
        project=project,
        files=[("c.yaml", connector_yaml(version=version, **kw))],
        acknowledge_breaking=True,
    )
    return ConnectorVersion.objects.get(project=project, connector__key="acme_crm", version=version)


@pytest.fixture
def world(tenancy: Tenancy) -> World:
    project = tenancy.project
    old = make_profile(
        project,
        "acme_crm",
        "v1",
        version="1.0.0",
        pin="1.x.x",
        setup_fields=("client_id", "client_secret"),
        setup={"client_id": "cid-123", "client_secret": SECRET},
    )
    spare = profile_create(
        actor=SYSTEM, project=project, connector_key="acme_crm", name="v1-eu", pin="1.x.x"
    )
    v2 = push(
        project, "2.0.0", auth_type="oauth2", setup_fields=("client_id", "client_secret", "tenant")
    )
    assert v2.reauth_required
    new = profile_create(
        actor=SYSTEM, project=project, connector_key="acme_crm", name="v2", pin="2.x.x"
    )
    other = make_profile(project, "other_crm", "other")
    accounts = [
        make_connection(old, f"user-{n}", email=f"user{n}@customer.example", name=f"Account {n}")
        for n in range(4)
    ]
    return World(tenancy, old, spare, new, other, v2, accounts)


def count_profiles() -> int:
    return ConnectorProfile.objects.count()


# --- Permissions ------------------------------------------------------------------------------


def expected(who: str, success: int) -> int:
    if who == "anonymous":
        return 302
    if who == "stranger":
        return 404
    if who not in ALLOWED:
        return 403
    return success


@pytest.mark.parametrize("who", WHO)
def test_permission_matrix(world: World, who: str) -> None:
    m = world.migrate()
    a = world.accounts[0]
    client = world.client(who)
    before = (ProfileMigration.objects.count(), count_profiles(), ConnectSession.objects.count())
    gets = [
        (world.url("migration_list"), {}),
        (world.url("migration_new"), {}),
        (world.start_url(), {}),
        (world.url("migration_detail", m.public_id), {}),
        (world.url("migration_detail", m.public_id), {"HX-Target": "pending-table", **HTMX}),
    ]
    for url, headers in gets:
        response = client.get(url, headers=headers)
        assert response.status_code == expected(who, 200), (url, response.status_code)
        if response.status_code == 302:
            assert response["Location"].startswith("/accounts/login/")
        if response.status_code == 403:
            assert b'aria-label="Project"' in response.content, "the 403 page keeps the nav"
    posts = [
        (world.url("migration_link_create", m.public_id, a.public_id), {}, 302),
        (
            world.url("migration_notify", m.public_id),
            {"scope": "selected", "ids": [a.public_id]},
            302,
        ),
        (world.url("migration_export", m.public_id), {}, 200),
        (world.url("migration_complete", m.public_id), {}, 200),  # the confirmation page
        (
            world.start_url(),
            {
                "from_profile": world.spare.public_id,
                "profile_name": "eu 2.x",
                "title": "EU to 2.x",
                "setup_client_id": "eu-cid",
                "setup_client_secret": "eu-secret-0123456789",
                "setup_tenant": "eu",
            },
            302,
        ),
        (
            world.url("migration_new"),
            {
                "from_profile": world.new.public_id,
                "to_profile": world.spare.public_id,
                "title": "Back",
            },
            302,
        ),
    ]
    for url, data, success in posts:
        response = client.post(url, data)
        assert response.status_code == expected(who, success), (url, response.status_code)
    after = (ProfileMigration.objects.count(), count_profiles(), ConnectSession.objects.count())
    if who in ALLOWED:
        assert after == (before[0] + 2, before[1] + 1, before[2] + 1)
    else:
        assert after == before, "a refused request changes nothing"
    m.refresh_from_db()
    assert m.is_open


def test_wrong_methods(world: World) -> None:
    m = world.migrate()
    client = world.client("owner")
    for name, args in [
        ("migration_link_create", (m.public_id, world.accounts[0].public_id)),
        ("migration_notify", (m.public_id,)),
        ("migration_export", (m.public_id,)),
        ("migration_complete", (m.public_id,)),
    ]:
        assert client.get(world.url(name, *args)).status_code == 405
    assert client.post(world.url("migration_list")).status_code == 405
    assert client.post(world.url("migration_detail", m.public_id)).status_code == 405
    assert client.put(world.url("migration_new")).status_code == 405
    assert client.delete(world.start_url()).status_code == 405


def test_another_projects_migration_is_404(world: World) -> None:
    theirs_project = world.tenancy.other_project
    a = make_profile(theirs_project, "acme_crm", "a")
    b = profile_create(actor=SYSTEM, project=theirs_project, connector_key="acme_crm", name="b")
    theirs = migration_create(
        actor=SYSTEM, project=theirs_project, from_profile=a, to_profile=b, title="Theirs"
    )
    client = world.client("owner")
    assert client.get(world.url("migration_detail", theirs.public_id)).status_code == 404
    assert (
        client.post(
            world.url("migration_complete", theirs.public_id), {"confirmed": "yes"}
        ).status_code
        == 404
    )
    theirs.refresh_from_db()
    assert theirs.is_open
    # An account of another migration is not pending in this one.
    mine = world.migrate()
    c = make_connection(a, "stranger-account")
    assert (
        client.post(world.url("migration_link_create", mine.public_id, c.public_id)).status_code
        == 404
    )


# --- Starting by hand -------------------------------------------------------------------------


def test_list_empty_state_and_form(world: World) -> None:
    response = world.client().get(world.url("migration_list"))
    assert response.status_code == 200
    content = response.content.decode()
    assert 'data-testid="empty-state"' in content
    assert "connections must re-authenticate" in content
    assert 'data-testid="migration-new-form"' in content
    assert f'<option value="{world.old.public_id}">v1</option>' in content


def test_create_by_hand(world: World) -> None:
    client = world.client("admin")
    day = (timezone.localdate() + timedelta(days=10)).isoformat()
    response = client.post(
        world.url("migration_new"),
        {
            "from_profile": world.old.public_id,
            "to_profile": world.new.public_id,
            "title": "Reconnect to Acme 2.x",
            "message": "Please sign in again.",
            "deadline": day,
        },
    )
    m = ProfileMigration.objects.get()
    assert response.status_code == 302
    assert response["Location"] == world.url("migration_detail", m.public_id)
    assert (m.from_profile_id, m.to_profile_id, m.title) == (
        world.old.pk,
        world.new.pk,
        "Reconnect to Acme 2.x",
    )
    assert m.message == "Please sign in again." and m.created_by == world.tenancy.users["admin"]
    assert timezone.localtime(m.deadline).date().isoformat() == day
    page = client.get(response["Location"]).content.decode()
    assert "Migration started: v1 → v2" in page and "by admin" in page
    # A second one from the same profile: a conflict, shown on the form.
    again = client.post(
        world.url("migration_new"),
        {
            "from_profile": world.old.public_id,
            "to_profile": world.spare.public_id,
            "title": "Again",
        },
    )
    assert again.status_code == 409 and b"already has a migration in progress" in again.content


@pytest.mark.parametrize(
    ("change", "status", "text"),
    [
        ({"to_profile": "other"}, 400, "same connector"),
        ({"to_profile": "old"}, 400, "different profile"),
        ({"title": ""}, 400, "title"),
        ({"deadline": "2001-01-01"}, 400, "future"),
        ({"deadline": "next week"}, 400, "YYYY-MM-DD"),
        ({"to_profile": ""}, 400, "Choose a profile"),
        ({"to_profile": "abc"}, 400, "Choose a profile"),
        ({"to_profile": "elsewhere"}, 404, ""),
        ({"from_profile": "elsewhere"}, 404, ""),
    ],
)
def test_create_by_hand_errors(
    world: World, change: dict[str, str], status: int, text: str
) -> None:
    elsewhere = make_profile(world.tenancy.other_project, "acme_crm", "theirs")
    ids = {
        "other": world.other.public_id,
        "old": world.old.public_id,
        "elsewhere": elsewhere.public_id,
    }
    data: dict[str, Any] = {
        "from_profile": world.old.public_id,
        "to_profile": world.new.public_id,
        "title": "Move",
    }
    for key, value in change.items():
        data[key] = ids.get(value, value)
    response = world.client().post(world.url("migration_new"), data)
    assert response.status_code == status
    if text:
        assert text in response.content.decode()
        assert 'value="Move"' in response.content.decode() or not data["title"]
    assert not ProfileMigration.objects.exists()


# --- Starting from the change report ----------------------------------------------------------


def test_offers_on_version_and_profile_pages(world: World) -> None:
    owner, member = world.client("owner"), world.client("member")
    version_url = world.url("version_detail", "acme_crm", world.v2.pk)
    page = owner.get(version_url).content.decode()
    assert "Create a profile pinned to 2.x.x and migrate" in page
    assert world.start_url() in page
    assert "v1, v1-eu" in page  # both profiles on 1.x
    assert "Create a profile pinned to" not in member.get(version_url).content.decode()
    # A version without an auth change offers nothing.
    v1 = ConnectorVersion.objects.get(
        project=world.tenancy.project, connector__key="acme_crm", version="1.0.0"
    )
    assert (
        "pinned to"
        not in owner.get(world.url("version_detail", "acme_crm", v1.pk)).content.decode()
    )
    # The old profile's page offers it (prefilled with itself); the 2.x profile's does not.
    profile_page = owner.get(world.url("profile_detail", world.old.public_id)).content.decode()
    assert 'data-testid="migration-offer"' in profile_page
    assert f"{world.start_url()}?from_profile={world.old.public_id}" in profile_page
    assert (
        'data-testid="migration-offer"'
        not in owner.get(world.url("profile_detail", world.new.public_id)).content.decode()
    )
    assert (
        'data-testid="migration-offer"'
        not in member.get(world.url("profile_detail", world.old.public_id)).content.decode()
    )
    # Once it migrates, the offer gives way to the banner.
    world.migrate()
    profile_page = owner.get(world.url("profile_detail", world.old.public_id)).content.decode()
    assert 'data-testid="migration-offer"' not in profile_page
    assert 'data-testid="migration-out-banner"' in profile_page


def test_start_form_is_prefilled_and_copies_setup(world: World) -> None:
    response = world.client().get(f"{world.start_url()}?from_profile={world.old.public_id}")
    assert response.status_code == 200
    assert set(response["Cache-Control"].split(", ")) == {"no-store", "private"}
    html = response.content.decode()
    assert f'<option value="{world.old.public_id}" selected>' in html
    assert f'<option value="{world.new.public_id}"' not in html, "already pinned to 2.x.x"
    assert 'value="v1 2.x"' in html
    assert 'value="Reconnect to Acme CRM 2.x"' in html
    assert re.search(
        r'data-testid="copied-client_id".*copied from v1.*<code>cid-123</code>', html, re.S
    )
    assert re.search(r'data-testid="copied-client_secret".*copied \(••••\)', html, re.S)
    assert SECRET not in html and "0123456789" not in html
    assert 'data-testid="copied-tenant"' not in html
    assert re.search(r'name="setup_tenant"[^>]*required', html)
    # HTMX: choosing another from-profile swaps the new-profile card only.
    partial = world.client().get(
        f"{world.start_url()}?from_profile={world.spare.public_id}",
        headers={"HX-Target": "start-new-profile", **HTMX},
    )
    body = partial.content.decode()
    assert "<html" not in body and 'value="v1-eu 2.x"' in body
    assert "copied from" not in body  # v1-eu has no setup values
    # Without script: action=refresh re-renders for the chosen profile, creating nothing.
    refreshed = world.client().post(
        world.start_url(), {"from_profile": world.spare.public_id, "action": "refresh"}
    )
    assert refreshed.status_code == 200 and 'value="v1-eu 2.x"' in refreshed.content.decode()
    assert not ProfileMigration.objects.exists()


def start_data(world: World, **kw: Any) -> dict[str, Any]:
    data = {
        "from_profile": world.old.public_id,
        "profile_name": "v1 2.x",
        "title": "Reconnect to Acme CRM 2.x",
        "message": "We moved to OAuth.",
        "deadline": (timezone.localdate() + timedelta(days=14)).isoformat(),
        "setup_client_id": "",
        "setup_client_secret": "",
        "setup_tenant": "acme",
    }
    data.update(kw)
    return data


def test_start_creates_profile_and_migration(world: World) -> None:
    client = world.client("admin")
    response = client.post(world.start_url(), start_data(world))
    m = ProfileMigration.objects.get()
    assert response.status_code == 302
    assert response["Location"] == world.url("migration_detail", m.public_id)
    new = m.to_profile
    assert (new.name, new.pin, m.from_profile_id) == ("v1 2.x", "2.x.x", world.old.pk)
    assert new.setup_values == {"client_id": "cid-123", "tenant": "acme"}
    assert decrypt_json(new.setup_secrets) == {"client_secret": SECRET}
    assert m.message == "We moved to OAuth." and m.deadline is not None
    # The migration page follows.
    page = client.get(response["Location"])
    assert page.status_code == 200 and b"Created the profile v1 2.x pinned to 2.x.x" in page.content


def test_start_override_replaces_a_copied_value(world: World) -> None:
    world.client().post(
        world.start_url(),
        start_data(world, setup_client_id="cid-new", setup_client_secret="new-secret-0123456789"),
    )
    new = ProfileMigration.objects.get().to_profile
    assert new.setup_values["client_id"] == "cid-new"
    assert decrypt_json(new.setup_secrets) == {"client_secret": "new-secret-0123456789"}


@pytest.mark.parametrize(
    ("change", "status", "text"),
    [
        ({"setup_tenant": ""}, 400, "Tenant is required"),
        ({"from_profile": "other"}, 400, "profile of other_crm"),
        ({"from_profile": "new"}, 400, "pinned to 2.x.x already"),
        ({"from_profile": ""}, 400, "Choose a profile"),
        ({"profile_name": ""}, 400, "Give the new profile a name"),
        ({"profile_name": "v2"}, 409, "exists already"),
        ({"title": " "}, 400, "title"),
        # Issue 28, finding 6: these were a 500 (KeyError: 'title').
        ({"title": "Move\x00now"}, 400, "The title"),
        ({"title": "Move\x07now"}, 400, "The title"),
        ({"title": "m" * 10_000}, 400, "The title"),
        ({"message": "Hello\x00"}, 400, "The message"),
        ({"profile_name": "v1\x00"}, 400, "The profile name"),
        ({"deadline": "yesterday"}, 400, "YYYY-MM-DD"),
        ({"from_profile": "elsewhere"}, 404, ""),
    ],
)
def test_start_errors_change_nothing(
    world: World, change: dict[str, str], status: int, text: str
) -> None:
    elsewhere = make_profile(world.tenancy.other_project, "acme_crm", "theirs")
    ids = {
        "other": world.other.public_id,
        "new": world.new.public_id,
        "elsewhere": elsewhere.public_id,
    }
    data = start_data(world, setup_client_secret="typed-secret-0123456789")
    data.update({k: ids.get(v, v) for k, v in change.items()})
    before = count_profiles()
    response = world.client().post(world.start_url(), data)
    assert response.status_code == status
    if text:
        html = response.content.decode()
        assert text in html
        assert "typed-secret-0123456789" not in html, "a typed secret is never echoed"
        assert 'data-testid="start-form"' in html
    assert count_profiles() == before
    assert not ProfileMigration.objects.exists()


def test_start_with_another_projects_version_is_404(world: World) -> None:
    theirs = push(world.tenancy.other_project, "3.0.0", auth_type="oauth2")
    client = world.client()
    assert client.get(world.start_url(theirs)).status_code == 404
    assert client.post(world.start_url(theirs), start_data(world)).status_code == 404
    assert not ProfileMigration.objects.exists()


def test_start_with_a_draft_is_404(world: World) -> None:
    connector_version_push(
        actor=SYSTEM,
        project=world.tenancy.project,
        files=[("c.yaml", connector_yaml(version="3.0.0", auth_type="basic"))],
        draft=True,
        acknowledge_breaking=True,
    )
    draft = ConnectorVersion.objects.get(project=world.tenancy.project, version="3.0.0")
    assert world.client().get(world.start_url(draft)).status_code == 404


# --- Progress figures -------------------------------------------------------------------------


def move(world: World, *accounts: Connection, when: Any = None) -> None:
    update_connections(
        Connection.objects.filter(pk__in=[a.pk for a in accounts]),
        profile=world.new,
        moved_from_profile=world.old,
        moved_at=when or timezone.now(),
    )


def test_progress_figures_on_both_pages(world: World) -> None:
    m = world.migrate(deadline=timezone.now() + timedelta(days=5))
    move(world, world.accounts[0])
    done = migration_create(
        actor=SYSTEM,
        project=world.tenancy.project,
        from_profile=world.spare,
        to_profile=world.new,
        title="Spare done",
    )
    migration_complete(actor=SYSTEM, migration=done)
    client = world.client()
    listing = client.get(world.url("migration_list")).content.decode()
    assert listing.index("Move to 2.x") < listing.index("Spare done"), "open ones first"
    row = listing[listing.index(f'data-migration="{m.public_id}"') :]
    row = row[: row.index("</tr>")]
    assert "1 / 4 migrated · 25%" in row
    assert re.search(r'data-testid="pending-count">3<', row)
    assert "in 5 days" in row and "in progress" in row
    assert 'width="25"' in row, "the bar's fill is an SVG width, not a style"
    assert "style=" not in listing
    assert "complete" in listing[listing.index(f'data-migration="{done.public_id}"') :]

    page = client.get(world.url("migration_detail", m.public_id))
    assert set(page["Cache-Control"].split(", ")) == {"no-store", "private"}
    html = page.content.decode()
    assert re.search(r'data-testid="figure-migrated">1<', html)
    assert re.search(r'data-testid="figure-pending">3<', html)
    assert re.search(r'data-testid="figure-percent">25%<', html)
    assert re.search(r'data-testid="figure-deadline">in 5 days<', html)
    assert re.search(r'data-testid="figure-started">\d{4}-\d\d-\d\d<', html)
    assert 'role="img"' in html and '<title id="chart-title">' in html
    assert re.search(r'data-testid="chart-data".*<td>1</td>', html, re.S)
    assert 'data-testid="migrated-row" data-owner="user-0"' in html
    assert "style=" not in html
    # Overdue.
    ProfileMigration.objects.filter(pk=m.pk).update(deadline=timezone.now() - timedelta(days=2))
    assert (
        "overdue by 2 days"
        in client.get(world.url("migration_detail", m.public_id)).content.decode()
    )
    assert "overdue by 2 days" in client.get(world.url("migration_list")).content.decode()


def test_chart_follows_daily_moves(world: World) -> None:
    m = world.migrate()
    ProfileMigration.objects.filter(pk=m.pk).update(started_at=timezone.now() - timedelta(days=6))
    m.refresh_from_db()
    move(world, world.accounts[0], when=timezone.now() - timedelta(days=4))
    move(world, world.accounts[1], world.accounts[2], when=timezone.now() - timedelta(days=1))
    html = world.client().get(world.url("migration_detail", m.public_id)).content.decode()
    table = html[html.index('data-testid="chart-data"') :]
    table = table[: table.index("</table>")]
    counts = [int(n) for n in re.findall(r"<td>(\d+)</td>", table)]
    assert len(counts) == 7 and counts[0] == 0 and counts[2] == 1 and counts[-1] == 3
    assert "3 of 4 accounts migrated between" in html
    assert re.search(r'<polyline class="chart-line" points="[\d., ]+"', html)


# --- The pending accounts table ---------------------------------------------------------------


def owners(html: str) -> list[str]:
    return re.findall(r'data-testid="pending-row" data-owner="([^"]+)"', html)


def test_pending_table_filters_search_sort_and_notice_state(world: World) -> None:
    m = world.migrate()
    _a0, a1, a2, a3 = world.accounts
    update_connections(Connection.objects.filter(pk=a2.pk), status=Status.NEEDS_REAUTH)
    MigrationNotice.objects.create(
        migration=m, connection=a1, notices_sent=2, last_sent_at=timezone.now()
    )
    MigrationNotice.objects.create(migration=m, connection=a3)  # a link, never sent
    client = world.client()
    url = world.url("migration_detail", m.public_id)

    def rows(**params: str) -> list[str]:
        response = client.get(url, params, headers={"HX-Target": "pending-table", **HTMX})
        assert response.status_code == 200
        assert "<html" not in response.content.decode()
        return owners(response.content.decode())

    assert rows() == ["user-3", "user-2", "user-1", "user-0"]
    assert rows(dir="asc") == ["user-0", "user-1", "user-2", "user-3"]
    assert rows(sort="name", dir="asc") == ["user-0", "user-1", "user-2", "user-3"]
    assert rows(q="user-2") == ["user-2"]
    assert rows(q="user1@customer") == ["user-1"]
    assert rows(q="Account 3") == ["user-3"]
    assert rows(status="needs_reauth") == ["user-2"]
    assert rows(notice="sent") == ["user-1"]
    assert rows(notice="never") == ["user-3", "user-2", "user-0"]
    assert rows(notice="never", status="needs_reauth") == ["user-2"]
    full = client.get(url).content.decode()
    row1 = full[full.index('data-owner="user-1"') :]
    assert "2 sent" in row1[: row1.index("</tr>")]
    bad = client.get(url, {"per_page": "7"})
    assert bad.status_code == 400 and b"Rows per page must be one of 25, 50, 100" in bad.content
    assert client.get(url, {"notice": "maybe"}).status_code == 400
    assert client.get(url, {"sort": "email"}).status_code == 400
    assert client.get(url, {"after": "garbage"}).status_code == 400


def test_pending_table_keyset_pages(world: World) -> None:
    m = world.migrate()
    for n in range(26):
        make_connection(world.old, f"bulk-{n:02d}")
    client = world.client()
    url = world.url("migration_detail", m.public_id)
    first = client.get(url, {"per_page": "25"}).content.decode()
    page1 = owners(first)
    assert len(page1) == 25 and "30 accounts" in first
    next_href = re.search(r'rel="next" href="([^"#]+)', first)
    assert next_href and "offset" not in next_href.group(1)
    second = client.get(next_href.group(1).replace("&amp;", "&")).content.decode()
    page2 = owners(second)
    assert len(page2) == 5 and not set(page1) & set(page2)
    assert set(page1 + page2) == {
        c.origin_owner_id for c in Connection.objects.filter(profile=world.old)
    }
    prev_href = re.search(r'rel="prev" href="([^"#]+)', second)
    assert prev_href
    back = client.get(prev_href.group(1).replace("&amp;", "&")).content.decode()
    assert owners(back) == page1
    assert len(owners(client.get(url, {"per_page": "50"}).content.decode())) == 30


def test_reconnect_links_in_rows(world: World) -> None:
    m = world.migrate()
    a0, a1 = world.accounts[:2]
    _notice, url0 = migration_link(actor=SYSTEM, migration=m, connection=a0)
    client = world.client()
    html = client.get(world.url("migration_detail", m.public_id)).content.decode()
    row0 = html[html.index('data-owner="user-0"') :]
    row0 = row0[: row0.index("</tr>")]
    assert f'value="{url0}" readonly' in row0 and 'data-copy="link-' in row0
    row1 = html[html.index('data-owner="user-1"') :]
    row1 = row1[: row1.index("</tr>")]
    assert 'data-testid="create-link"' in row1 and "/connect/" not in row1
    # HTMX: "Create link" swaps the row with its new link.
    created = client.post(
        world.url("migration_link_create", m.public_id, a1.public_id), headers=HTMX
    )
    assert created.status_code == 200 and set(created["Cache-Control"].split(", ")) == {
        "no-store",
        "private",
    }
    body = created.content.decode()
    assert body.lstrip().startswith("<tr") and 'data-owner="user-1"' in body
    link = re.search(r'value="(http[^"]+/connect/[^"]+)" readonly', body)
    assert link
    session = ConnectSession.objects.get(account=a1)
    assert session.profile_id == world.new.pk
    # Plain POST: back to the page, where the row shows the same (reused) link.
    plain = client.post(world.url("migration_link_create", m.public_id, a1.public_id))
    assert plain.status_code == 302 and plain["Location"].endswith("#pending")
    assert ConnectSession.objects.filter(account=a1).count() == 1
    assert link.group(1) in client.get(world.url("migration_detail", m.public_id)).content.decode()
    # A used link is not shown again: the row offers a new one.
    ConnectSession.objects.filter(account=a0).update(used_at=timezone.now())
    html = client.get(world.url("migration_detail", m.public_id)).content.decode()
    assert url0 not in html
    # The hosted page opens.
    assert Client().get(urlsplit(link.group(1)).path).status_code == 200


# --- Notices ----------------------------------------------------------------------------------


def link_in(body: str) -> str:
    return next(line for line in body.splitlines() if "/connect/" in line).strip()


def test_send_to_selected(world: World, django_capture_on_commit_callbacks: Any) -> None:
    m = world.migrate(message="Sign in again, please.")
    a0, a1, a2, _a3 = world.accounts
    move(world, a2)  # no longer pending: never emailed
    client = world.client("admin")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            world.url("migration_notify", m.public_id),
            {"scope": "selected", "ids": [a0.public_id, a1.public_id, a2.public_id]},
            follow=True,
        )
    assert response.status_code == 200
    assert b"2 emails queued" in response.content
    assert sorted(e.to[0] for e in mail.outbox) == [
        "user0@customer.example",
        "user1@customer.example",
    ]
    links = {e.to[0]: link_in(str(e.body)) for e in mail.outbox}
    assert len(set(links.values())) == 2
    for address, url in links.items():
        session = ConnectSession.objects.get(account__email=address)
        assert session.profile_id == world.new.pk
        assert Client().get(urlsplit(url).path).status_code == 200
    assert "Sign in again, please." in mail.outbox[0].body
    assert sorted(
        MigrationNotice.objects.filter(notices_sent=1).values_list("connection_id", flat=True)
    ) == sorted([a0.pk, a1.pk])
    # The table now shows the notices and the links that were sent (the tasks ran when the
    # request's transaction committed, after the page above was drawn).
    html = client.get(world.url("migration_detail", m.public_id)).content.decode()
    assert links["user0@customer.example"] in html
    row0 = html[html.index('data-owner="user-0"') :]
    assert "1 sent" in row0[: row0.index("</tr>")]


def test_send_to_all_page_selection_and_errors(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    m = world.migrate()
    client = world.client()
    url = world.url("migration_notify", m.public_id)
    # "All": a confirmation page first, nothing sent.
    confirm = client.post(url, {"scope": "all"})
    assert confirm.status_code == 200 and b"all 4 pending accounts" in confirm.content
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, {"scope": "all", "confirmed": "yes"})
    assert done.status_code == 302
    assert sorted(e.to[0] for e in mail.outbox) == sorted(c.email for c in world.accounts)
    assert len({link_in(str(e.body)) for e in mail.outbox}) == 4
    # "Select all on this page" sends the page's ids.
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            url,
            {
                "scope": "selected",
                "all_on_page": "1",
                "page_ids": [c.public_id for c in world.accounts[:3]],
            },
        )
    assert len(mail.outbox) == 3
    assert MigrationNotice.objects.filter(notices_sent=2).count() == 3
    # Errors re-render the page with the message.
    for data, text in [
        ({"scope": "selected"}, b"Select at least one pending account"),
        ({"scope": "selected", "ids": ["x"]}, b"not an account id"),
        ({"scope": "nobody"}, b"Choose whom"),
    ]:
        response = client.post(url, data)
        assert response.status_code == 400 and text in response.content
    migration_complete(actor=SYSTEM, migration=m)
    response = client.post(url, {"scope": "selected", "ids": [world.accounts[0].public_id]})
    assert response.status_code == 400 and b"sends no more notices" in response.content


# --- CSV export -------------------------------------------------------------------------------


def streamed(response: Any) -> list[bytes]:
    content = cast(StreamingHttpResponse, response).streaming_content
    assert isinstance(content, Iterator), "a synchronous stream"
    return list(content)


def test_export_csv(world: World) -> None:
    m = world.migrate()
    a0 = world.accounts[0]
    _n, url0 = migration_link(actor=SYSTEM, migration=m, connection=a0)
    MigrationNotice.objects.filter(connection=a0).update(
        notices_sent=3, last_sent_at=timezone.now()
    )
    Connection.objects.filter(pk=world.accounts[1].pk).update(
        origin_owner_name="=HYPERLINK(1)", name="=cmd"
    )
    move(world, world.accounts[3])
    response = world.client().post(world.url("migration_export", m.public_id))
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert (
        response["Content-Disposition"]
        == f'attachment; filename="migration-{m.public_id}-pending.csv"'
    )
    assert set(response["Cache-Control"].split(", ")) == {"no-store", "private"}
    text = b"".join(streamed(response)).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        "origin_owner_id",
        "name",
        "email",
        "status",
        "connection_id",
        "notices_sent",
        "last_sent_at",
        "reconnect_url",
    ]
    body = {r[4]: r for r in rows[1:]}
    assert len(rows) == 1 + 3 and set(body) == {str(c.public_id) for c in world.accounts[:3]}
    first = body[str(a0.public_id)]
    assert first[:4] == ["user-0", "Account 0", "user0@customer.example", "active"]
    assert first[5] == "3" and first[6] and first[7] == url0, "a valid link is reused"
    assert body[str(world.accounts[1].public_id)][1] == "'=cmd", "no spreadsheet formulas"
    urls = [r[7] for r in rows[1:]]
    assert len(set(urls)) == 3
    for url in urls:
        assert Client().get(urlsplit(url).path).status_code == 200
    assert MigrationNotice.objects.filter(migration=m).count() == 3


def test_export_streams_in_batches(world: World, monkeypatch: Any) -> None:
    from dashboard.rollouts.views import exports as migration_views

    monkeypatch.setattr(migration_views, "EXPORT_BATCH", 2)
    m = world.migrate()
    response = world.client().post(world.url("migration_export", m.public_id))
    chunks = streamed(response)
    assert len(chunks) == 1 + 2  # the header, then two batches of two
    assert sum(chunk.count(b"\n") for chunk in chunks) == 5


# --- Completion -------------------------------------------------------------------------------


def test_mark_complete(world: World) -> None:
    m = world.migrate()
    client = world.client()
    confirm = client.post(world.url("migration_complete", m.public_id))
    assert confirm.status_code == 200 and b"4 accounts still on" in confirm.content
    m.refresh_from_db()
    assert m.is_open
    done = client.post(
        world.url("migration_complete", m.public_id), {"confirmed": "yes"}, follow=True
    )
    m.refresh_from_db()
    assert not m.is_open and b"is complete" in done.content
    html = done.content.decode()
    assert 'data-testid="migration-status">complete' in html
    assert 'data-testid="notify-selected"' not in html and 'data-testid="create-link"' not in html
    response = client.post(
        world.url("migration_link_create", m.public_id, world.accounts[0].public_id)
    )
    assert response.status_code == 400
    again = client.post(
        world.url("migration_complete", m.public_id), {"confirmed": "yes"}, follow=True
    )
    assert b"was complete already" in again.content


# --- Banners on profile and connection pages --------------------------------------------------


def test_profile_banners(world: World) -> None:
    m = world.migrate()
    admin = (
        world.client("admin").get(world.url("profile_detail", world.old.public_id)).content.decode()
    )
    assert "4 connections</strong> still on this profile" in admin
    assert world.url("migration_detail", m.public_id) in admin
    member = (
        world.client("member")
        .get(world.url("profile_detail", world.old.public_id))
        .content.decode()
    )
    assert 'data-testid="migration-out-banner"' in member
    assert (
        "4 connections" not in member and world.url("migration_detail", m.public_id) not in member
    )
    receiving = (
        world.client("viewer")
        .get(world.url("profile_detail", world.new.public_id))
        .content.decode()
    )
    assert "Receiving accounts from" in receiving and ">v1</a>" in receiving
    migration_complete(actor=SYSTEM, migration=m)
    admin = (
        world.client("admin").get(world.url("profile_detail", world.old.public_id)).content.decode()
    )
    assert 'data-testid="migration-out-banner"' not in admin


def test_connection_page_shows_the_migration(world: World) -> None:
    m = world.migrate()
    a0, a1 = world.accounts[:2]
    MigrationNotice.objects.create(
        migration=m, connection=a0, notices_sent=2, last_sent_at=timezone.now()
    )
    Connection.objects.filter(pk=a0.pk).update(org_role="viewer")
    client = world.client()
    html = client.get(world.url("connection_detail", a0.public_id)).content.decode()
    line = html[html.index('data-testid="connection-migration"') :]
    line = line[: line.index("</dd>")]
    assert 'data-state="pending"' in line and ">v2</a>" in line and "2 sent" in line
    assert world.url("migration_detail", m.public_id) in line
    member = (
        world.client("member").get(world.url("connection_detail", a0.public_id)).content.decode()
    )
    assert 'data-testid="connection-migration"' in member
    assert world.url("migration_detail", m.public_id) not in member
    move(world, a1)
    html = client.get(world.url("connection_detail", a1.public_id)).content.decode()
    assert 'data-state="migrated"' in html and "Migrated from" in html


# --- Query counts -----------------------------------------------------------------------------


def queries(client: Client, url: str, **kw: Any) -> int:
    """Queries of one request with a cold cache (progress figures are cached): the worst case."""
    cache.clear()
    with CaptureQueriesContext(db) as ctx:
        response = client.get(url, **kw)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_migration_page_queries_do_not_grow_with_accounts(world: World) -> None:
    m = world.migrate()
    for c in world.accounts[:2]:
        migration_link(actor=SYSTEM, migration=m, connection=c)
    move(world, world.accounts[3])
    client = world.client()
    url = world.url("migration_detail", m.public_id)
    client.get(url)  # warm caches (sessions, resolution)
    small = queries(client, url)
    small_htmx = queries(client, url, headers={"HX-Target": "pending-table", **HTMX})
    for n in range(30):
        c = make_connection(world.old, f"more-{n}")
        if n % 3 == 0:
            migration_link(actor=SYSTEM, migration=m, connection=c)
    move(world, *Connection.objects.filter(origin_owner_id__in=["more-1", "more-2"]))
    big = queries(client, url)
    assert big == small, (small, big)
    assert queries(client, url, headers={"HX-Target": "pending-table", **HTMX}) == small_htmx
    assert queries(client, url, data={"notice": "never", "q": "more"}) == small


def test_migrations_page_queries_do_not_grow_with_migrations(world: World) -> None:
    world.migrate()
    client = world.client()
    url = world.url("migration_list")
    client.get(url)
    one = queries(client, url)
    for n in range(3):
        a = profile_create(
            actor=SYSTEM, project=world.tenancy.project, connector_key="acme_crm", name=f"x{n}"
        )
        make_connection(a, f"x-{n}")
        migration_create(
            actor=SYSTEM,
            project=world.tenancy.project,
            from_profile=a,
            to_profile=world.new,
            title=f"X{n}",
        )
    assert ProfileMigration.objects.count() == 4
    assert queries(client, url) == one


def test_the_new_profile_becomes_the_default_unless_unticked(world: World) -> None:
    """New end users must land on the profile accounts move to, not the one they leave."""
    client = world.client("admin")
    form = client.get(world.start_url()).content.decode()
    assert 'name="make_default" id="start-make-default" value="1" checked' in form
    listing = client.get(world.url("migration_list")).content.decode()
    assert 'id="new-make-default" value="1" checked' in listing
    ConnectorProfile.objects.filter(pk=world.old.pk).update(is_default=True)
    ConnectorProfile.objects.exclude(pk=world.old.pk).update(is_default=False)
    assert (
        client.post(world.start_url(), {**start_data(world), "make_default": "1"}).status_code
        == 302
    )
    new = ProfileMigration.objects.get().to_profile
    new.refresh_from_db()
    world.old.refresh_from_db()
    assert new.is_default and not world.old.is_default
    entry = AuditEntry.objects.filter(action="profile.updated", target_id=str(new.pk)).latest("id")
    assert entry.after == {"is_default": True}
    # Unticked (the box sends nothing): the defaults stay as they were.
    ProfileMigration.objects.all().delete()
    before = set(ConnectorProfile.objects.filter(is_default=True).values_list("pk", flat=True))
    by_hand = {
        "from_profile": world.old.public_id,
        "to_profile": world.spare.public_id,
        "title": "By hand",
    }
    assert client.post(world.url("migration_new"), by_hand).status_code == 302
    after = set(ConnectorProfile.objects.filter(is_default=True).values_list("pk", flat=True))
    assert after == before


def test_connect_links_on_a_profile_being_migrated_away_from_warn(world: World) -> None:
    client = world.client("admin")
    profile_page = world.url("profile_detail", world.old.public_id)
    connector_page = world.url("connector_detail", "acme_crm")
    for url in (profile_page, connector_page):
        assert 'data-testid="link-migration-warning"' not in client.get(url).content.decode()
    world.migrate()
    html = client.get(profile_page).content.decode()
    assert 'data-testid="link-migration-warning"' in html and "Create the link on v2" in html
    html = client.get(connector_page).content.decode()
    assert "The profile <strong>v1</strong> is being migrated away from" in html
    target = client.get(world.url("profile_detail", world.new.public_id)).content.decode()
    assert 'data-testid="link-migration-warning"' not in target


def test_the_page_polls_while_notices_are_sent(
    world: World, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """Queued (not yet sent) notices: the pending section polls itself with a progress bar;
    once the worker has gone through them it shows the summary and stops polling."""
    from django.tasks import default_task_backend

    from rollouts.tasks import send_migration_notices

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    m = world.migrate()
    client = world.client("admin")
    url = world.url("migration_detail", m.public_id)
    assert 'data-testid="notice-run"' not in client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            world.url("migration_notify", m.public_id),
            {"scope": "all", "confirmed": "yes"},
            follow=True,
        )
    html = response.content.decode()
    assert "4 emails queued" in html
    assert 'data-state="sending"' in html and 'hx-trigger="every 2s"' in html
    assert "0 of 4 accounts done" in html and "never sent" in html
    # The worker runs the queued batches (the real task, as the worker would).
    results = list(default_task_backend.results)  # type: ignore[attr-defined]
    assert results, "the batches wait for the worker"
    for result in results:
        send_migration_notices.call(*result.args)
    html = client.get(url, headers={"HX-Request": "true", "HX-Target": "pending"}).content.decode()
    assert 'data-state="done"' in html and 'hx-trigger="every 2s"' not in html
    assert "4 of 4 queued accounts" in html and "1 sent" in html
    assert len(mail.outbox) == 4
