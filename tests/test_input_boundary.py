"""The input boundary (issue 12): text with NUL, other control characters or bidi overrides,
over-long text and out-of-range numbers are a clear 4xx wherever they enter (API query
strings, paths and JSON bodies, dashboard forms, the hosted connect page, pushed YAML), and
nothing changes. Run on SQLite and on PostgreSQL (where a NUL used to reach the database and
fail there as a 500)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client

from connections.models import Connection, ConnectSession
from connections.services.connect import connect_session_create
from core.validation import MAX_OFFSET, check_text, text_problem
from profiles.models import ConnectorProfile
from profiles.services import profile_create
from projects.models import Project
from projects.services import Actor
from rollouts.models import ProfileMigration
from rollouts.services import migration_create
from rollouts.tasks import send_migration_notices
from tests.conftest import Tenancy
from tests.factories import make_api_key, make_connection, make_profile

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
NUL = "a\x00b"
RLO = "admin\u202egnp.exe"


def api_client(project: Project) -> Client:
    return Client(headers={"Authorization": f"Bearer {make_api_key(project)[1]}"})


def assert_400(response: Any, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == 400, response.content[:500]
    body = response.json()
    if field is not None:
        assert field in [f["field"] for f in body["fields"]], body
    return body


# --- The shared validator ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["a\x00b", "a\x1bb", "a\x7fb", "a\x85b", "line\nbreak", "tab\there", "cr\rlf", RLO, "\u2066x"],
)
def test_single_line_text_refuses_controls_and_bidi(value: str) -> None:
    assert text_problem(value) is not None
    with pytest.raises(ValueError, match="must not contain"):
        check_text(value)


def test_multi_line_text_allows_tab_and_newline_only() -> None:
    assert text_problem("one\r\ntwo\tthree", multiline=True) is None
    assert text_problem("عربي \u202b embedded", multiline=True) is None
    assert "U+0000" in (text_problem("a\x00", multiline=True) or "")
    assert "position 2" in (text_problem("a\x0bb", multiline=True) or "")


def test_length_is_refused_naming_the_limit_never_cut() -> None:
    assert text_problem("x" * 100, max_length=100) is None
    assert "at most 100 characters" in (text_problem("x" * 101, max_length=100) or "")
    assert text_problem("Zoë – ünïcode ✓ 名前") is None


# --- API: query strings, paths, bodies --------------------------------------------------------


@pytest.fixture
def profile(tenancy: Tenancy) -> ConnectorProfile:
    return make_profile(tenancy.project)


@pytest.fixture
def api(tenancy: Tenancy) -> Client:
    return api_client(tenancy.project)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"search": NUL}, "search"),
        ({"connector_key": NUL}, "connector_key"),
        ({"resolved_version": NUL}, "resolved_version"),
        ({"name__icontains": NUL}, "name__icontains"),
        ({"origin_owner_id__exact": "x\u202e"}, "origin_owner_id__exact"),
        ({"search": "x" * 201}, "search"),
        ({"offset": "99999999999999999999"}, "offset"),
        ({"offset": str(MAX_OFFSET + 1)}, "offset"),
        ({"limit": "99999999999999999999"}, "limit"),
    ],
)
def test_connection_list_refuses_bad_query(
    api: Client, profile: ConnectorProfile, params: dict[str, str], field: str
) -> None:
    make_connection(profile)
    assert_400(api.get("/api/v1/connections", params), field)


def test_connection_list_accepts_the_largest_offset(api: Client, profile: ConnectorProfile) -> None:
    response = api.get("/api/v1/connections", {"offset": MAX_OFFSET})
    assert response.status_code == 200
    assert response.json()["items"] == []


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/connectors/acme%00crm/versions",
        "/api/v1/connectors/acme%00crm/versions/1.0.0",
        "/api/v1/connectors/acme_crm/versions/1.0.0%00",
        "/api/v1/connectors/acme_crm/versions/%E2%80%AE1.0.0",
    ],
)
def test_path_with_nul_is_a_4xx(api: Client, profile: ConnectorProfile, path: str) -> None:
    response = api.get(path)
    assert response.status_code in (400, 404), response.content[:300]
    assert response.json()["code"] in ("invalid", "not_found")


def test_versions_page_size_is_bounded(api: Client, profile: ConnectorProfile) -> None:
    assert_400(api.get("/api/v1/connectors/acme_crm/versions", {"first": "9" * 30}), "first")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": NUL}, "name"),
        ({"name": RLO}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "connector_key": NUL}, "connector_key"),
        ({"name": "ok", "pinned_version": "1.x.x\x00"}, "pinned_version"),
    ],
)
def test_profile_create_refuses_bad_text(
    api: Client, profile: ConnectorProfile, body: dict[str, Any], field: str
) -> None:
    payload = {"connector_key": "acme_crm", **body}
    response = api.post("/api/v1/connector_profiles", payload, content_type="application/json")
    error = assert_400(response, field)
    if body.get("name", "").startswith("xxx"):
        assert "100" in json.dumps(error)
    assert ConnectorProfile.objects.count() == 1


def test_profile_name_of_100_characters_is_kept_whole(
    api: Client, profile: ConnectorProfile
) -> None:
    name = "n" * 100
    response = api.post(
        "/api/v1/connector_profiles",
        {"connector_key": "acme_crm", "name": name},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert ConnectorProfile.objects.get(public_id=response.json()["id"]).name == name


def test_profile_service_refuses_a_long_name_instead_of_cutting(
    profile: ConnectorProfile,
) -> None:
    from projects.services import ServiceError

    with pytest.raises(ServiceError, match="at most 100"):
        profile_create(
            actor=SYSTEM, project=profile.project, connector_key="acme_crm", name="y" * 150
        )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"origin_owner_id": NUL}, "origin_owner_id"),
        ({"origin_owner_name": NUL}, "origin_owner_name"),
        ({"origin_username": NUL}, "origin_username"),
        ({"email": "<script>@x"}, "email"),
        ({"email": "a@x.example\r\nBcc: evil@x.example"}, "email"),
        ({"email": "not an address"}, "email"),
        ({"connector_key": NUL}, "connector_key"),
    ],
)
def test_connect_session_refuses_bad_owner_fields(
    api: Client, profile: ConnectorProfile, body: dict[str, Any], field: str
) -> None:
    payload = {"origin_owner_id": "cust-1", "connector_profile_id": profile.public_id, **body}
    if "connector_key" in body:
        payload.pop("connector_profile_id")
    response = api.post("/api/v1/connect_sessions", payload, content_type="application/json")
    assert_400(response, field)
    assert not ConnectSession.objects.exists()


def test_connect_session_accepts_a_good_email(api: Client, profile: ConnectorProfile) -> None:
    payload = {
        "origin_owner_id": "cust-1",
        "connector_profile_id": profile.public_id,
        "email": "zoe@bücher.example",
    }
    response = api.post("/api/v1/connect_sessions", payload, content_type="application/json")
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("name", [NUL, RLO, "x" * 201])
def test_connection_rename_refuses_bad_text(
    api: Client, profile: ConnectorProfile, name: str
) -> None:
    connection = make_connection(profile)
    before = connection.name
    response = api.patch(
        f"/api/v1/connections/{connection.public_id}",
        {"name": name},
        content_type="application/json",
    )
    assert_400(response, "name")
    connection.refresh_from_db()
    assert connection.name == before


def test_pending_offset_overflow_is_400(tenancy: Tenancy, api: Client) -> None:
    old = make_profile(tenancy.project, "acme_crm", "v1", pin="1.x.x")
    new = profile_create(
        actor=SYSTEM, project=tenancy.project, connector_key="acme_crm", name="v1b", pin="1.0.0"
    )
    migration = migration_create(
        actor=SYSTEM, project=tenancy.project, from_profile=old, to_profile=new, title="Move"
    )
    url = f"/api/v1/migrations/{migration.public_id}/pending"
    assert_400(api.get(url, {"offset": "99999999999999999999"}), "offset")
    assert api.get(url, {"offset": MAX_OFFSET}).status_code == 200


# --- Dashboard forms --------------------------------------------------------------------------


@pytest.fixture
def owner(tenancy: Tenancy) -> Client:
    return tenancy.client("owner")


@pytest.mark.parametrize(
    "path",
    [
        "/p/acme-prod/connections/",
        "/p/acme-prod/connectors/",
        "/p/acme-prod/settings/members/",
    ],
)
@pytest.mark.parametrize("q", ["%00", "a%00b", "x%E2%80%AE"])
def test_dashboard_search_with_nul_is_a_400(
    owner: Client, profile: ConnectorProfile, path: str, q: str
) -> None:
    response = owner.get(f"{path}?q={q}")
    assert response.status_code == 400
    assert b"must not contain" in response.content


@pytest.mark.parametrize(
    "path",
    ["/p/acme-prod/connections/", "/p/acme-prod/connectors/", "/p/acme-prod/settings/members/"],
)
def test_dashboard_search_over_the_limit_is_a_400_not_a_cut(
    owner: Client, profile: ConnectorProfile, path: str
) -> None:
    assert owner.get(path, {"q": "x" * 200}).status_code == 200
    response = owner.get(path, {"q": "x" * 201})
    assert response.status_code == 400
    assert b"at most 200 characters" in response.content


def test_pending_search_with_nul_is_a_400(
    tenancy: Tenancy, owner: Client, profile: ConnectorProfile
) -> None:
    new = profile_create(
        actor=SYSTEM, project=tenancy.project, connector_key="acme_crm", name="v1b"
    )
    migration = migration_create(
        actor=SYSTEM, project=tenancy.project, from_profile=profile, to_profile=new, title="M"
    )
    response = owner.get(f"/p/acme-prod/migrations/{migration.public_id}/?q=a%00b")
    assert response.status_code == 400


@pytest.mark.parametrize("name", [NUL, RLO, "n" * 201])
def test_dashboard_rename_refuses_bad_text(
    owner: Client, profile: ConnectorProfile, name: str
) -> None:
    connection = make_connection(profile)
    before = connection.name
    response = owner.post(
        f"/p/acme-prod/connections/{connection.public_id}/rename/", {"name": name}
    )
    assert response.status_code == 400
    connection.refresh_from_db()
    assert connection.name == before


@pytest.mark.parametrize("name", [NUL, RLO, "p" * 101])
def test_dashboard_new_profile_refuses_bad_text(
    owner: Client, profile: ConnectorProfile, name: str
) -> None:
    response = owner.post("/p/acme-prod/profiles/new/", {"connector_key": "acme_crm", "name": name})
    assert response.status_code == 400
    assert ConnectorProfile.objects.count() == 1
    if len(name) > 100:
        assert b"at most 100 characters" in response.content


def test_dashboard_profile_save_refuses_a_long_name(
    owner: Client, profile: ConnectorProfile
) -> None:
    response = owner.post(f"/p/acme-prod/profiles/{profile.public_id}/save/", {"name": "p" * 101})
    assert response.status_code == 400
    profile.refresh_from_db()
    assert profile.name == "production"


@pytest.mark.parametrize(
    "email", ["<script>@x", "a@x.example\r\nBcc: evil@x.example", "no-at-sign"]
)
def test_dashboard_link_form_refuses_bad_email(
    owner: Client, profile: ConnectorProfile, email: str
) -> None:
    response = owner.post(
        f"/p/acme-prod/profiles/{profile.public_id}/link/",
        {"origin_owner_id": "cust-1", "email": email, "expires_in": 1800},
    )
    assert response.status_code == 400
    assert not ConnectSession.objects.exists()


# --- Hosted connect page ----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["sk\x00live", "sk\u202elive", "sk\r\nlive"])
def test_hosted_page_refuses_control_characters_in_config(
    profile: ConnectorProfile, value: str
) -> None:
    created = connect_session_create(
        actor=SYSTEM,
        project=profile.project,
        connector_profile_id=profile.public_id,
        origin_owner_id="c",
    )
    response = Client().post(urlsplit(created.url).path, {"config_api_key": value})
    assert response.status_code == 400
    assert b"must not contain" in response.content
    assert value.encode() not in response.content  # a secret field is never echoed
    assert not Connection.objects.exists()
    session = ConnectSession.objects.get()
    assert session.used_at is None  # the link still works


# --- Reconnect emails: one bad address does not stop the batch ---------------------------------


def test_a_bad_address_is_skipped_and_the_rest_are_notified(
    tenancy: Tenancy, profile: ConnectorProfile
) -> None:
    accounts = [make_connection(profile, f"u{n}", email=f"u{n}@x.example") for n in range(3)]
    # An address from before the boundary existed (stored straight in the database).
    Connection.objects.filter(pk=accounts[0].pk).update(email="evil@x.example\r\nBcc: a@b.c")
    new = profile_create(
        actor=SYSTEM, project=tenancy.project, connector_key="acme_crm", name="v1b"
    )
    migration = migration_create(
        actor=SYSTEM, project=tenancy.project, from_profile=profile, to_profile=new, title="M"
    )
    mail.outbox.clear()
    sent = send_migration_notices.call(migration.pk, [a.pk for a in accounts], "test")
    assert sent == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["u1@x.example", "u2@x.example"]
    assert ProfileMigration.objects.get().pk == migration.pk
