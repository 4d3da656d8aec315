"""The dashboard's frame: navigation by role, the skip link, the profile menu's time zone."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from connections.models import Connection, OrgRole
from connections.services.connections import connection_set_org_role
from projects.models import UserPreference
from projects.services import Actor
from tests.conftest import ROLES, Tenancy
from tests.factories import make_connection, make_profile, make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("who", ROLES)
def test_navigation_shows_what_the_role_can_use(tenancy: Tenancy, who: str) -> None:
    connection = make_connection(make_profile(tenancy.project), "u1")
    connection_set_org_role(actor=Actor.system(), connection=connection, role=OrgRole.EDITOR)
    client = tenancy.client(who)
    home = client.get(reverse("project_home", args=[tenancy.project.slug])).content.decode()
    manages = who in ("owner", "admin")
    sidebar = home[home.index('aria-label="Project"') : home.index('id="main"')]
    assert ('href="/p/acme-prod/migrations/"' in sidebar) == manages
    assert ("/migrations/" in home) == manages, "no page links a member to a 403"
    assert 'class="visually-hidden-focusable skip-link" href="#main"' in home
    assert f'data-testid="current-role">{who}<' in home
    settings = client.get(reverse("settings_general", args=[tenancy.project.slug])).content.decode()
    assert ("API keys" in settings) == manages and ("Danger Zone" in settings) == manages
    listing = client.get(reverse("connection_list", args=[tenancy.project.slug])).content.decode()
    writes = who != "viewer"
    assert ('data-testid="bulk-toolbar"' in listing) == writes
    assert ('name="ids"' in listing) == writes
    # The 403 stays as the guard behind the hidden links.
    migrations = client.get(reverse("migration_list", args=[tenancy.project.slug]))
    assert migrations.status_code == (200 if manages else 403)


def test_support_staff_see_the_admin_link_and_no_project(db: None) -> None:
    support = make_user("sam-support", is_staff=True)
    client = Client()
    client.force_login(support)
    page = client.get(reverse("home"), follow=True).content.decode()
    assert 'data-testid="admin-link"' in page and 'data-testid="current-role">support<' in page
    assert 'aria-label="Project"' not in page


def test_time_zone_from_the_profile_menu(tenancy: Tenancy) -> None:
    profile = make_profile(tenancy.project)
    connection = make_connection(profile, "u1")
    client = tenancy.client("admin")
    url = reverse("user_time_zone")
    page = reverse("connection_list", args=[tenancy.project.slug])
    assert " UTC" in client.get(page).content.decode()
    bad = client.post(url, {"time_zone": "Mars/Olympus", "next": page}, follow=True)
    assert "is not a time zone name" in bad.content.decode()
    assert not UserPreference.objects.exists()
    evil = client.post(url, {"time_zone": "Asia/Tokyo", "next": "https://evil.example/"})
    assert evil["Location"] == "/"
    # Issue 28, finding 6: ``next=foo`` was a 500 (NoReverseMatch); no path of ours: home.
    for where in ("foo", "home", "//evil.example/x", "/\x00", "javascript:alert(1)"):
        for zone in ("Asia/Tokyo", "Mars/Olympus"):
            elsewhere = client.post(url, {"time_zone": zone, "next": where})
            assert (elsewhere.status_code, elsewhere["Location"]) == (302, "/"), (where, zone)
    done = client.post(url, {"time_zone": "Asia/Tokyo", "next": page}, follow=True)
    html = done.content.decode()
    assert "Times are shown in Asia/Tokyo" in html and " JST" in html
    assert UserPreference.objects.get(user=tenancy.users["admin"]).time_zone == "Asia/Tokyo"
    # A new session (a new login) starts in the stored zone.
    fresh = Client()
    fresh.force_login(tenancy.users["admin"])
    assert " JST" in fresh.get(page).content.decode()
    assert Connection.objects.filter(pk=connection.pk).exists()
