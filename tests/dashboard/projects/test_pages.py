"""Pages as a user sees them: content, HTMX partials, empty states, query counts."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from projects.models import ApiKey, AuditEntry, Membership, Role
from projects.selectors import projects_for_user, projects_with_membership
from projects.services import Actor, audit_record
from tests.conftest import Tenancy
from tests.factories import (
    make_api_key,
    make_member,
    make_organization,
    make_project,
    make_team,
)


def test_home_redirects_to_a_project_or_welcomes_a_new_user(tenancy: Tenancy, client, user) -> None:
    response = tenancy.client("viewer").get("/")
    assert response.status_code == 302 and response["Location"] == f"/p/{tenancy.project.slug}/"
    client.force_login(user)
    welcome = client.get("/")
    assert welcome.status_code == 200
    assert b"You are not a member of any project yet" in welcome.content


def test_a_new_user_creates_an_organization_and_lands_in_its_project(client, user) -> None:
    client.force_login(user)
    response = client.post(
        reverse("organization_create"),
        {
            "organization_name": "Initech",
            "organization_slug": "initech",
            "project_name": "Production",
            "project_slug": "initech-prod",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/p/initech-prod/"
    assert Membership.objects.get(user=user).role == Role.OWNER
    taken = client.post(
        reverse("organization_create"),
        {
            "organization_name": "Again",
            "organization_slug": "initech",
            "project_name": "P",
            "project_slug": "other",
        },
    )
    assert taken.status_code == 400 and "is taken" in taken.content.decode()


def test_last_visited_project_is_remembered(tenancy: Tenancy) -> None:
    second = make_project(tenancy.organization, "acme-zz-staging")
    client = tenancy.client("member")
    client.get(reverse("project_home", args=[second.slug]))
    assert client.get("/")["Location"] == f"/p/{second.slug}/"


@pytest.mark.parametrize(
    "name", ["connector_list", "profile_list", "connection_list", "migration_list"]
)
def test_sections_show_an_empty_state_that_says_what_to_do(tenancy: Tenancy, name: str) -> None:
    who = "admin" if name == "migration_list" else "viewer"  # migrations are an admin job
    response = tenancy.client(who).get(reverse(name, args=[tenancy.project.slug]))
    assert response.status_code == 200
    assert b'data-testid="empty-state"' in response.content
    for label in (b"Connectors", b"Profiles", b"Connections", b"Settings"):
        assert label in response.content
    assert (b">Migrations</a>" in response.content) == (who == "admin")


def test_viewer_sees_no_write_controls(tenancy: Tenancy) -> None:
    content = (
        tenancy.client("viewer")
        .get(reverse("settings_members", args=[tenancy.project.slug]))
        .content
    )
    assert b"Add member" not in content and b"Remove" not in content
    assert (
        b"API keys"
        not in tenancy.client("viewer")
        .get(reverse("settings_general", args=[tenancy.project.slug]))
        .content
    )
    assert (
        b"Add member"
        in tenancy.client("admin")
        .get(reverse("settings_members", args=[tenancy.project.slug]))
        .content
    )


def test_htmx_role_change_returns_the_members_partial(tenancy: Tenancy) -> None:
    membership = Membership.objects.get(user=tenancy.users["member"])
    response = tenancy.client("owner").post(
        reverse("member_role", args=[tenancy.project.slug, membership.pk]),
        {"role": "viewer"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert content.lstrip().startswith('<div id="members-panel">')
    assert "<html" not in content
    assert "member is now viewer" in content
    membership.refresh_from_db()
    assert membership.role == "viewer"


def test_htmx_refusal_shows_the_reason_and_changes_nothing(tenancy: Tenancy) -> None:
    owner = Membership.objects.get(user=tenancy.users["owner"])
    response = tenancy.client("owner").post(
        reverse("member_role", args=[tenancy.project.slug, owner.pk]),
        {"role": "viewer"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422  # 400 for a plain form; see HtmxValidationStatusMiddleware
    assert "at least one owner" in response.content.decode()
    owner.refresh_from_db()
    assert owner.role == "owner"


def test_api_key_is_shown_once(tenancy: Tenancy) -> None:
    client = tenancy.client("admin")
    url = reverse("settings_api_keys", args=[tenancy.project.slug])
    response = client.post(url, {"name": "deploy"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert set(response["Cache-Control"].split(", ")) == {"no-store", "private"}
    content = response.content.decode()
    raw = content.split('id="new-api-key">')[1].split("<")[0]
    assert raw.startswith(ApiKey.objects.get(name="deploy").prefix + "_")
    assert raw not in client.get(url).content.decode(), "never shown again"
    assert raw not in str(list(AuditEntry.objects.values()))


def test_api_key_scope_is_chosen_on_the_page_and_listed(tenancy: Tenancy) -> None:
    client = tenancy.client("admin")
    url = reverse("settings_api_keys", args=[tenancy.project.slug])
    page = client.get(url).content.decode()
    assert 'name="scope"' in page and 'value="read"' in page
    response = client.post(url, {"name": "reporting", "scope": "read"})
    assert response.status_code == 200
    assert ApiKey.objects.get(name="reporting").scope == "read"
    client.post(url, {"name": "deploy"})
    assert ApiKey.objects.get(name="deploy").scope == "full", "full is the default"
    listed = client.get(url).content.decode()
    rows = listed.split('data-testid="key-scope">')[1:]
    assert sorted(row.split("</td>")[0].split(">")[1].split("<")[0] for row in rows) == [
        "full",
        "read",
    ]
    assert client.post(url, {"name": "bad", "scope": "admin"}).status_code == 400
    assert not ApiKey.objects.filter(name="bad").exists()


def test_invalid_api_key_name_is_a_clear_error(tenancy: Tenancy) -> None:
    response = tenancy.client("admin").post(
        reverse("settings_api_keys", args=[tenancy.project.slug]), {"name": "x" * 300}
    )
    assert response.status_code == 400
    assert not ApiKey.objects.exists()


def test_audit_log_filters(tenancy: Tenancy) -> None:
    actor = Actor(user=tenancy.users["admin"])
    for n in range(3):
        audit_record(
            actor=actor,
            organization=tenancy.organization,
            project=tenancy.project,
            action="project.updated",
            target=tenancy.project,
            after={"n": n},
        )
    make_api_key(tenancy.project)
    # another project's entries never show
    audit_record(
        actor=actor,
        organization=tenancy.other_project.organization,
        project=tenancy.other_project,
        action="project.updated",
        target=tenancy.other_project,
    )
    client = tenancy.client("owner")
    url = reverse("settings_audit", args=[tenancy.project.slug])
    all_rows = client.get(url).content.decode().count("<tr>") - 1
    assert all_rows == 4
    only_keys = client.get(url, {"action": "api_key"}).content.decode()
    assert only_keys.count("<tr>") - 1 == 1 and "api_key.created" in only_keys
    by_actor = client.get(url, {"actor": "admin"}, headers={"HX-Request": "true"}).content.decode()
    assert (
        by_actor.lstrip().startswith('<div id="audit-table">') and by_actor.count("<tr>") - 1 == 3
    )
    assert tenancy.other_project.name not in client.get(url).content.decode()
    # Labels a reader knows, no colons (issue 30: internal model names, "Action:").
    page = client.get(url).content.decode()
    assert '<option value="connectorprofile">Connector profile</option>' in page
    assert ">connectorprofile<" not in page
    assert 'for="id_action">Action</label>' in page and "Action:</label>" not in page
    by_target = client.get(url, {"target_type": "apikey"}).content.decode()
    assert by_target.count("<tr>") - 1 == 1


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_members_page_query_count_does_not_grow(tenancy: Tenancy) -> None:
    client = tenancy.client("owner")
    url = reverse("settings_members", args=[tenancy.project.slug])
    make_team(tenancy.organization, "First", tenancy.users["viewer"])
    _queries(client, url)  # warm the session
    small = _queries(client, url)
    for n in range(25):
        user = make_member(tenancy.organization)
        make_team(tenancy.organization, f"T{n}", user, tenancy.users["member"])
        make_project(tenancy.organization)
    assert _queries(client, url) == small


def test_audit_and_api_key_pages_query_counts_do_not_grow(tenancy: Tenancy) -> None:
    client = tenancy.client("owner")
    audit_url = reverse("settings_audit", args=[tenancy.project.slug])
    keys_url = reverse("settings_api_keys", args=[tenancy.project.slug])
    make_api_key(tenancy.project)
    _queries(client, audit_url)
    before = (_queries(client, audit_url), _queries(client, keys_url))
    for _ in range(60):
        make_api_key(tenancy.project)
    assert (_queries(client, audit_url), _queries(client, keys_url)) == before


@pytest.mark.parametrize("name", ["project_home", "connector_list", "settings_general"])
def test_section_pages_query_counts_do_not_grow(tenancy: Tenancy, name: str) -> None:
    client = tenancy.client("member")
    url = reverse(name, args=[tenancy.project.slug])
    _queries(client, url)
    before = _queries(client, url)
    for _ in range(10):
        make_project(tenancy.organization)
    assert _queries(client, url) == before


def test_audit_log_pages_with_a_cursor(tenancy: Tenancy) -> None:
    actor = Actor(user=tenancy.users["admin"])
    for n in range(120):
        audit_record(
            actor=actor,
            organization=tenancy.organization,
            project=tenancy.project,
            action="project.updated",
            target=tenancy.project,
            after={"n": n},
        )
    client = tenancy.client("owner")
    url = reverse("settings_audit", args=[tenancy.project.slug])

    def page(**params: Any) -> tuple[list[int], object, object]:
        context = client.get(url, params).context
        return (
            [e.after["n"] for e in context["entries"]],
            context["newer_cursor"],
            context["older_cursor"],
        )

    first, newer, older = page()
    assert first == list(range(119, 69, -1)) and newer is None and older
    second, newer2, older2 = page(before=older)
    assert second == list(range(69, 19, -1)) and newer2 and older2
    third, newer3, older3 = page(before=older2)
    assert third == list(range(19, -1, -1)) and older3 is None
    back, _, _ = page(after=newer3)
    assert back == second
    filtered, _, _ = page(action="project", before=older)
    assert filtered == second


def test_project_pages_read_the_projects_once_for_the_lookup_and_the_switcher(
    tenancy: Tenancy,
) -> None:
    """The project lookup reads the user's projects with their membership in one query, which
    the project switcher then lists: no second query on the projects table."""
    second = make_project(tenancy.organization, slug="second-project")
    client = tenancy.client("viewer")
    for name in ("connection_list", "project_home", "profile_list"):
        url = reverse(name, args=[tenancy.project.slug])
        client.get(url)  # warm the session
        with CaptureQueriesContext(connection) as ctx:
            html = client.get(url).content.decode()
        on_projects = [q for q in ctx.captured_queries if 'FROM "projects_project"' in q["sql"]]
        assert len(on_projects) == 1, name
        switcher = html[html.index('data-testid="project-switcher"') :]
        assert second.name in switcher and tenancy.project.name in switcher
        assert tenancy.other_project.name not in switcher  # another organization's


def test_projects_with_membership_reads_what_the_orm_reads(tenancy: Tenancy) -> None:
    """The project lookup's one SQL statement gives the same projects, organizations and
    memberships, field by field (dates and booleans converted as the ORM does), in the
    switcher's order, as the querysets it stands for."""
    user = tenancy.users["viewer"]
    other = make_organization()
    Membership.objects.create(organization=other, user=user, role=Role.ADMIN)
    make_project(other, slug="aaa-first")
    make_project(tenancy.organization, slug="second-project")

    def values(obj: Any) -> dict[str, Any]:
        return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}

    pairs = projects_with_membership(user)
    expected = list(projects_for_user(user))
    assert [values(p) for p, _m in pairs] == [values(p) for p in expected]
    assert [values(p.organization) for p, _m in pairs] == [values(p.organization) for p in expected]
    assert [values(m) for _p, m in pairs] == [
        values(Membership.objects.get(user=user, organization=p.organization)) for p in expected
    ]
    assert len({p.organization_id for p, _m in pairs}) == 2
    assert all(m.organization is p.organization for p, m in pairs)
    assert projects_with_membership(AnonymousUser()) == []
