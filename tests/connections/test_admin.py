"""The connections admin: lookups for support staff, masked secrets, the two actions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.db import connection as db_connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from connections.admin import CappedCountPaginator
from connections.models import Connection, ConnectionGrant, Health, Status
from connections.services.connections import connection_set_status, grant_set
from profiles.models import ConnectorProfile
from projects.crypto import mask
from projects.models import AuditEntry
from projects.services import Actor
from projects.support import ensure_support_group
from tests.conftest import Tenancy
from tests.factories import make_connection, make_profile, make_user, member_id
from tests.provider import Answer, Provider, provider_server

SECRET = "sk_live_admin_secret_0123456789"
CHANGELIST = reverse("admin:connections_connection_changelist")


def change_url(connection: Connection) -> str:
    return reverse("admin:connections_connection_change", args=[connection.pk])


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        yield server


@dataclass
class Data:
    profile: ConnectorProfile
    other_profile: ConnectorProfile
    known: Connection  # holds SECRET
    failing: Connection
    other: Connection


@pytest.fixture
def data(tenancy: Tenancy, provider: Provider) -> Data:
    profile = make_profile(tenancy.project, base_url=provider.url, health_path="/me")
    other_profile = make_profile(
        tenancy.project, "ledgerly", "books", base_url=provider.url, health_path="/me"
    )
    known = make_connection(
        profile,
        "owner-4242",
        config={"api_key": SECRET},
        email="grace.hopper@navy.example",
        origin_owner_name="Grace Hopper",
    )
    failing = make_connection(profile, "owner-5555", email="alan@bletchley.example")
    connection_set_status(actor=Actor.system(), connection=failing, status=Status.NEEDS_REAUTH)
    other = make_connection(other_profile, "zz-other", email="zed@elsewhere.example")
    grant_set(
        actor=Actor.system(),
        connection=known,
        subject_type="user",
        subject_id=member_id(tenancy.users["member"]),
        role="editor",
    )
    return Data(profile, other_profile, known, failing, other)


@pytest.fixture
def superuser(db: None) -> User:
    return make_user("root", is_staff=True, is_superuser=True)


@pytest.fixture
def support_user(db: None) -> User:
    user = make_user("helpdesk", is_staff=True)
    user.groups.add(ensure_support_group())
    return user


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture(params=["superuser", "support"])
def staff(request: pytest.FixtureRequest, superuser: User, support_user: User) -> Client:
    return client_for(superuser if request.param == "superuser" else support_user)


def test_registered_with_grants_inline() -> None:
    assert admin.site.is_registered(Connection)
    model_admin = admin.site.get_model_admin(Connection)
    assert [i.model for i in model_admin.inlines] == [ConnectionGrant]


def test_support_group_may_view_connections_and_grants(db: None) -> None:
    codenames = set(ensure_support_group().permissions.values_list("codename", flat=True))
    assert {"view_connection", "view_connectiongrant"} <= codenames
    assert "change_connection" not in codenames


def test_changelist_and_change_page_render_read_only(staff: Client, data: Data) -> None:
    page = staff.get(CHANGELIST)
    assert page.status_code == 200
    html = page.content.decode()
    for connection in (data.known, data.failing, data.other):
        assert connection.origin_owner_id in html
    assert "1.0.0" in html  # the resolved version column
    detail = staff.get(change_url(data.known))
    assert detail.status_code == 200
    html = detail.content.decode()
    assert "owner-4242" in html and "grace.hopper@navy.example" in html
    assert 'name="_save"' not in html
    assert "member" in html  # the grant inline: the member as editor
    assert "Editor" in html


def test_no_add_change_or_delete_even_for_a_superuser(superuser: User, data: Data) -> None:
    client = client_for(superuser)
    assert client.get(reverse("admin:connections_connection_add")).status_code == 403
    response = client.post(change_url(data.known), {"name": "hacked", "status": "disabled"})
    assert response.status_code == 403
    delete = reverse("admin:connections_connection_delete", args=[data.known.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    data.known.refresh_from_db()
    assert data.known.name != "hacked" and data.known.status == Status.ACTIVE


def test_secret_never_shown_but_its_mask_is(staff: Client, data: Data) -> None:
    changelist = staff.get(CHANGELIST).content.decode()
    detail = staff.get(change_url(data.known)).content.decode()
    for html in (changelist, detail):
        assert SECRET not in html
        assert data.known.config_secrets not in html  # nor the ciphertext
    assert mask(SECRET) in detail
    assert mask(SECRET) == "••••" + SECRET[-4:]


def test_oauth_tokens_masked(staff: Client, tenancy: Tenancy) -> None:
    profile = make_profile(tenancy.project, "orbit_hr", "hr", auth_type="oauth2")
    access, refresh = "at_admin_access_0123456789", "rt_admin_refresh_0123456789"
    tokens: dict[str, object] = {
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "Bearer",
        "expires_at": 1_900_000_000,
        "scope": "employees.read",
    }
    connection = make_connection(profile, "oauth-owner", config={"api_key": SECRET}, tokens=tokens)
    html = staff.get(change_url(connection)).content.decode()
    assert access not in html and refresh not in html
    assert connection.oauth_tokens not in html
    assert mask(access) in html and mask(refresh) in html and "employees.read" in html


def results(client: Client, **params: str) -> set[str]:
    response = client.get(CHANGELIST, params)
    assert response.status_code == 200
    rows = response.context["cl"].result_list
    return {c.origin_owner_id for c in rows}


def test_search_by_owner_id_email_and_name(staff: Client, data: Data) -> None:
    assert results(staff, q="owner-4242") == {"owner-4242"}
    assert results(staff, q="4242") == {"owner-4242"}
    assert results(staff, q="grace.hopper@navy") == {"owner-4242"}
    assert results(staff, q="Grace Hopper") == {"owner-4242"}
    assert results(staff, q="owner-") == {"owner-4242", "owner-5555"}
    assert results(staff, q="zz") == {"zz-other"}  # two characters: owner id starts with
    assert results(staff, q="nobody-like-this") == set()


def test_filters(staff: Client, data: Data) -> None:
    assert results(staff, status__exact="needs_reauth") == {"owner-5555"}
    assert results(staff, health__exact="needs_reauth") == {"owner-5555"}
    assert results(staff, status__exact="active") == {"owner-4242", "zz-other"}
    assert results(staff, profile__id__exact=str(data.other_profile.pk)) == {"zz-other"}
    assert results(staff, connector__id__exact=str(data.profile.connector_id)) == {
        "owner-4242",
        "owner-5555",
    }
    html = staff.get(CHANGELIST).content.decode()
    assert "By profile" in html and "By connector" in html
    assert "acme-prod · ledgerly · books" in html  # profiles named by project and connector


def test_changelist_query_count_does_not_grow_with_rows(superuser: User, data: Data) -> None:
    client = client_for(superuser)
    client.get(CHANGELIST)
    with CaptureQueriesContext(db_connection) as few:
        client.get(CHANGELIST)
    for n in range(6):
        make_connection(data.other_profile, f"more-{n}")
    with CaptureQueriesContext(db_connection) as more:
        client.get(CHANGELIST)
    assert len(more.captured_queries) == len(few.captured_queries)
    # No count of the whole table: every COUNT is a capped subquery.
    for query in more.captured_queries:
        sql = query["sql"].upper()
        if "COUNT(" in sql:
            assert "LIMIT" in sql, sql


def test_paginator_counts_no_further_than_its_cap(
    data: Data, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(CappedCountPaginator, "CAP", 2)
    assert CappedCountPaginator(Connection.objects.order_by("-id"), 1).count == 2
    monkeypatch.setattr(CappedCountPaginator, "CAP", 10)
    assert CappedCountPaginator(Connection.objects.order_by("-id"), 1).count == 3


def run_action(client: Client, action: str, *connections: Connection) -> str:
    response = client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [c.pk for c in connections], "index": 0},
        follow=True,
    )
    assert response.status_code == 200
    return " | ".join(str(m) for m in response.context["messages"])


def test_health_check_action_against_a_real_server(
    superuser: User, data: Data, provider: Provider
) -> None:
    provider.routes["/me"] = Answer(200)
    staff = client_for(superuser)
    message = run_action(staff, "run_health_check", data.known, data.other)
    assert "Checked 2 connections: 2 healthy" in message
    for connection in (data.known, data.other):
        connection.refresh_from_db()
        assert connection.health == Health.HEALTHY
        assert connection.last_healthy_at is not None
    (first, second) = provider.calls("/me")
    assert {first.headers.get("Authorization"), second.headers.get("Authorization")} >= {
        f"Bearer {SECRET}"
    }
    assert SECRET not in message


def test_health_check_action_records_a_refusal(
    superuser: User, data: Data, provider: Provider
) -> None:
    provider.routes["/me"] = Answer(401, {"error": "bad key"})
    message = run_action(client_for(superuser), "run_health_check", data.known)
    assert "1 needs_reauth" in message
    data.known.refresh_from_db()
    assert data.known.health == Health.NEEDS_REAUTH
    entry = AuditEntry.objects.filter(action="connection.health_changed").get()
    assert entry.actor_label == "root"


def test_health_check_action_leaves_disabled_connections_alone(
    superuser: User, data: Data, provider: Provider
) -> None:
    provider.routes["/me"] = Answer(200)
    connection_set_status(actor=Actor.system(), connection=data.other, status=Status.DISABLED)
    message = run_action(client_for(superuser), "run_health_check", data.known, data.other)
    assert "Checked 1 connection: 1 healthy; 1 disabled left alone" in message
    assert len(provider.calls("/me")) == 1
    data.other.refresh_from_db()
    assert data.other.health_checked_at is None and data.other.status == Status.DISABLED


def test_health_check_action_is_limited(
    superuser: User, data: Data, monkeypatch: pytest.MonkeyPatch, provider: Provider
) -> None:
    monkeypatch.setattr("connections.admin.HEALTH_CHECK_LIMIT", 2)
    message = run_action(
        client_for(superuser), "run_health_check", data.known, data.failing, data.other
    )
    assert "at most 2" in message
    assert provider.calls("/me") == []


def test_superuser_marks_needs_reauth(superuser: User, data: Data) -> None:
    connection_set_status(actor=Actor.system(), connection=data.other, status=Status.DISABLED)
    message = run_action(
        client_for(superuser), "mark_needs_reauth", data.known, data.failing, data.other
    )
    assert "Marked 1 connection as needing re-authentication" in message
    assert "1 already did" in message and "1 disabled left alone" in message
    data.known.refresh_from_db()
    data.other.refresh_from_db()
    assert data.known.status == Status.NEEDS_REAUTH and data.known.health == Health.NEEDS_REAUTH
    assert data.other.status == Status.DISABLED
    entry = AuditEntry.objects.get(action="connection.needs_reauth", actor_label="root")
    assert entry.target_id == str(data.known.pk)


def test_support_staff_cannot_mark_needs_reauth(support_user: User, data: Data) -> None:
    client = client_for(support_user)
    html = client.get(CHANGELIST).content.decode()
    # Neither writing action is offered to view-only support (issue 30: "Run health check"
    # was, and it calls the provider and rewrites health).
    assert 'value="run_health_check"' not in html
    assert 'value="mark_needs_reauth"' not in html
    message = run_action(client, "mark_needs_reauth", data.known)
    assert "Marked" not in message
    data.known.refresh_from_db()
    assert data.known.status == Status.ACTIVE
    assert not AuditEntry.objects.filter(
        action="connection.needs_reauth", target_id=str(data.known.pk)
    ).exists()


def test_staff_without_view_permission_sees_nothing(data: Data) -> None:
    client = client_for(make_user("nobody-staff", is_staff=True))
    assert client.get(CHANGELIST).status_code == 403
    assert client.get(change_url(data.known)).status_code == 403
    response = client.post(
        CHANGELIST, {"action": "run_health_check", "_selected_action": [data.known.pk]}
    )
    assert response.status_code == 403
