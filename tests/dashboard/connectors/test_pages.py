"""Connector pages: permissions, upload preview over HTMX, Danger Zone, query counts."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from connectors.models import Connector, ConnectorVersion
from connectors.versioning import version_key
from profiles.services import connector_version_push
from projects.models import AuditEntry
from projects.services import Actor
from tests.conftest import WHO, Tenancy
from tests.factories import connector_yaml

pytestmark = pytest.mark.django_db
RANK = {"viewer": 1, "member": 2, "admin": 3, "owner": 4}


@pytest.fixture
def versions(tenancy: Tenancy) -> dict[str, ConnectorVersion]:
    system = Actor.system()
    builtin = connector_version_push(
        actor=system, project=None, files=[("c", connector_yaml())]
    ).version
    custom = connector_version_push(
        actor=system,
        project=tenancy.project,
        files=[("c", connector_yaml(version="1.1.0", actions=("a", "b")))],
    ).version
    draft = connector_version_push(
        actor=system,
        project=tenancy.project,
        files=[("c", connector_yaml(version="1.2.0", actions=("a", "b", "c")))],
        draft=True,
    ).version
    foreign = connector_version_push(
        actor=system, project=tenancy.other_project, files=[("c", connector_yaml(version="5.0.0"))]
    ).version
    return {"builtin": builtin, "custom": custom, "draft": draft, "foreign": foreign}


def page_urls(t: Tenancy, v: dict[str, ConnectorVersion]) -> list[tuple[str, int]]:
    slug = t.project.slug
    return [
        (reverse("connector_list", args=[slug]), 1),
        (reverse("connector_detail", args=[slug, "acme_crm"]), 1),
        (reverse("version_detail", args=[slug, "acme_crm", v["builtin"].pk]), 1),
        (reverse("version_detail", args=[slug, "acme_crm", v["draft"].pk]), 1),
        (
            reverse("version_compare", args=[slug, "acme_crm"])
            + f"?a={v['builtin'].pk}&b={v['custom'].pk}",
            1,
        ),
        (reverse("connector_upload", args=[slug]), 3),
        (reverse("settings_danger", args=[slug]), 3),
    ]


@pytest.mark.parametrize("who", WHO)
def test_page_matrix(tenancy: Tenancy, versions: dict[str, ConnectorVersion], who: str) -> None:
    client = tenancy.client(who)
    for url, need in page_urls(tenancy, versions):
        response = client.get(url)
        if who == "anonymous":
            assert response.status_code == 302, url
        elif who == "stranger":
            assert response.status_code == 404, url
        elif RANK[who] < need:
            assert response.status_code == 403, url
        else:
            assert response.status_code == 200, url


def test_another_projects_version_is_404(
    tenancy: Tenancy, versions: dict[str, ConnectorVersion]
) -> None:
    client = tenancy.client("owner")
    slug = tenancy.project.slug
    foreign = versions["foreign"]
    assert (
        client.get(reverse("version_detail", args=[slug, "acme_crm", foreign.pk])).status_code
        == 404
    )
    compare = (
        reverse("version_compare", args=[slug, "acme_crm"])
        + f"?a={versions['builtin'].pk}&b={foreign.pk}"
    )
    assert client.get(compare).status_code == 404
    for name in ("version_publish", "version_delete"):
        assert client.post(reverse(name, args=[slug, "acme_crm", foreign.pk])).status_code == 404
    assert ConnectorVersion.objects.filter(pk=foreign.pk).exists()


@pytest.mark.parametrize("who", ["owner", "admin", "member", "viewer", "stranger", "anonymous"])
def test_write_matrix(tenancy: Tenancy, versions: dict[str, ConnectorVersion], who: str) -> None:
    slug = tenancy.project.slug
    client = tenancy.client(who)
    draft = versions["draft"]
    # Publishing is for organization owners and admins (docs/concepts.md: project admins).
    expected = {
        "owner": 302,
        "admin": 302,
        "member": 403,
        "viewer": 403,
        "stranger": 404,
        "anonymous": 302,
    }[who]
    publish = client.post(reverse("version_publish", args=[slug, "acme_crm", draft.pk]))
    assert publish.status_code == expected
    draft.refresh_from_db()
    assert draft.is_draft == (who in ("member", "viewer", "stranger", "anonymous"))
    upload = client.post(
        reverse("connector_upload", args=[slug]),
        {
            "files": [
                SimpleUploadedFile(
                    "c.yaml", connector_yaml(version="1.3.0", actions=("a", "b", "c", "d"))
                )
            ]
        },
    )
    assert upload.status_code == expected
    assert ConnectorVersion.objects.filter(version="1.3.0").exists() == (who in ("owner", "admin"))


def test_wrong_method_is_405(tenancy: Tenancy, versions: dict[str, ConnectorVersion]) -> None:
    client = tenancy.client("owner")
    slug = tenancy.project.slug
    assert client.post(reverse("connector_list", args=[slug])).status_code == 405
    assert client.get(reverse("connector_upload_preview", args=[slug])).status_code == 405
    assert (
        client.get(
            reverse("version_publish", args=[slug, "acme_crm", versions["draft"].pk])
        ).status_code
        == 405
    )


def test_version_page_shows_auth_actions_report_and_source(tenancy: Tenancy) -> None:
    system = Actor.system()
    connector_version_push(actor=system, project=tenancy.project, files=[("c", connector_yaml())])
    v2 = connector_version_push(
        actor=system,
        project=tenancy.project,
        files=[
            (
                "main.yaml",
                connector_yaml(
                    version="2.0.0", auth_type="oauth2", scopes=("contacts.read", "contacts.write")
                ),
            )
        ],
    ).version
    content = (
        tenancy.client("viewer")
        .get(reverse("version_detail", args=[tenancy.project.slug, "acme_crm", v2.pk]))
        .content.decode()
    )
    assert "Connections must re-authenticate" in content
    assert "oauth2" in content and "contacts.write" in content
    assert "List Contacts" in content and "list_contacts" in content
    assert "main.yaml" in content and "baseUrl" in content  # source YAML


def test_catalogue_search(tenancy: Tenancy, versions: dict[str, ConnectorVersion]) -> None:
    connector_version_push(
        actor=Actor.system(),
        project=None,
        files=[("c", connector_yaml(key="orbit_hr", title="Orbit HR"))],
    )
    client = tenancy.client("viewer")
    url = reverse("connector_list", args=[tenancy.project.slug])
    full = client.get(url).content.decode()
    assert "Orbit HR" in full and "Acme CRM" in full
    found = client.get(url, {"q": "orbit"}, headers={"HX-Request": "true"}).content.decode()
    assert (
        found.lstrip().startswith('<div id="catalogue">')
        and "Orbit HR" in found
        and "Acme CRM" not in found
    )


def _preview(client: Any, slug: str, *files: tuple[str, bytes]) -> Any:
    return client.post(
        reverse("connector_upload_preview", args=[slug]),
        {"files": [SimpleUploadedFile(n, c) for n, c in files]},
        headers={"HX-Request": "true"},
    )


def test_upload_preview_over_htmx_stores_nothing(
    tenancy: Tenancy, versions: dict[str, ConnectorVersion]
) -> None:
    client = tenancy.client("admin")
    slug = tenancy.project.slug
    before = (ConnectorVersion.objects.count(), AuditEntry.objects.count())
    ok = _preview(
        client, slug, ("c.yaml", connector_yaml(version="1.3.0", actions=("a", "b", "c", "d")))
    )
    assert ok.status_code == 200
    html = ok.content.decode()
    assert html.lstrip().startswith('<div id="preview"') and "<html" not in html
    assert "1.3.0" in html and "minor" in html
    bad = _preview(client, slug, ("c.yaml", b"info: {title: X, key: Bad Key, version: nope}\n"))
    assert bad.status_code == 422 and "info.key" in bad.content.decode()
    breaking = _preview(client, slug, ("c.yaml", connector_yaml(version="1.1.1", actions=("a",))))
    assert 'name="acknowledge_breaking"' in breaking.content.decode()
    exists = _preview(client, slug, ("c.yaml", connector_yaml(version="1.1.0", actions=("a", "b"))))
    assert "immutable versioning is on" in exists.content.decode()
    assert 'name="force"' not in exists.content.decode()
    assert (ConnectorVersion.objects.count(), AuditEntry.objects.count()) == before


def test_upload_publishes_and_refuses_a_republish(
    tenancy: Tenancy, versions: dict[str, ConnectorVersion]
) -> None:
    client = tenancy.client("admin")
    url = reverse("connector_upload", args=[tenancy.project.slug])
    content = connector_yaml(version="1.3.0", actions=("a", "b", "c", "d"))
    response = client.post(
        url, {"files": [SimpleUploadedFile("c.yaml", content)], "action": "publish"}
    )
    assert response.status_code == 302
    version = ConnectorVersion.objects.get(version="1.3.0", project=tenancy.project)
    assert response["Location"] == reverse(
        "version_detail", args=[tenancy.project.slug, "acme_crm", version.pk]
    )
    again = client.post(
        url, {"files": [SimpleUploadedFile("c.yaml", content)], "action": "publish"}
    )
    assert again.status_code == 409 and "immutable versioning is on" in again.content.decode()


def test_danger_zone_toggle_needs_the_slug(tenancy: Tenancy) -> None:
    client = tenancy.client("admin")
    url = reverse("settings_danger", args=[tenancy.project.slug])
    wrong = client.post(
        url, {"immutable_versioning": "", "confirmation": "nope"}, headers={"HX-Request": "true"}
    )
    assert wrong.status_code == 422 and "to confirm" in wrong.content.decode()
    tenancy.project.refresh_from_db()
    assert tenancy.project.immutable_versioning
    ok = client.post(url, {"immutable_versioning": "", "confirmation": tenancy.project.slug})
    assert ok.status_code == 302
    tenancy.project.refresh_from_db()
    assert not tenancy.project.immutable_versioning
    entry = AuditEntry.objects.get(action="project.immutable_versioning_changed")
    assert entry.before == {"immutable_versioning": True} and entry.after == {
        "immutable_versioning": False
    }
    assert entry.actor == tenancy.users["admin"]
    banner = tenancy.client("viewer").get(reverse("connector_list", args=[tenancy.project.slug]))
    assert b'data-testid="immutability-banner"' in banner.content
    assert (
        tenancy.client("member").post(url, {"confirmation": tenancy.project.slug}).status_code
        == 403
    )


def _queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_connector_page_query_count_is_constant_with_2000_versions(tenancy: Tenancy) -> None:
    system = Actor.system()
    connector_version_push(actor=system, project=None, files=[("c", connector_yaml())])
    connector_version_push(
        actor=system, project=tenancy.project, files=[("c", connector_yaml(version="1.0.1"))]
    )
    client = tenancy.client("viewer")
    slug = tenancy.project.slug
    urls = [
        reverse("connector_list", args=[slug]),
        reverse("connector_detail", args=[slug, "acme_crm"]),
        reverse("connector_detail", args=[slug, "acme_crm"]) + "?page=3",
    ]
    for url in urls:
        _queries(client, url)
    small = [_queries(client, url) for url in urls[:2]]
    connector = Connector.objects.get()
    template = ConnectorVersion.objects.filter(project__isnull=True).get()
    bulk = []
    for n in range(2000):
        v = ConnectorVersion(
            connector=connector,
            project=None if n % 2 else tenancy.project,
            definition=template.definition,
            source_files=template.source_files,
            change_level="patch",
            change_report=template.change_report,
            published_at=template.published_at,
        )
        v.set_version(f"2.{n}.0")
        bulk.append(v)
    ConnectorVersion.objects.bulk_create(bulk)
    assert [_queries(client, url) for url in urls[:2]] == small
    assert _queries(client, urls[2]) == small[1]
    highest = ConnectorVersion.objects.order_by("-version_key").first()
    assert highest is not None and bytes(highest.version_key) == version_key("2.1999.0")


def test_a_refused_publish_keeps_the_files_and_offers_the_option(
    tenancy: Tenancy, versions: dict[str, ConnectorVersion]
) -> None:
    client = tenancy.client("admin")
    url = reverse("connector_upload", args=[tenancy.project.slug])
    breaking = connector_yaml(version="1.1.1", actions=("a",))  # 1.1.0 has actions a and b
    refused = client.post(
        url,
        {
            "files": [SimpleUploadedFile("c.yaml", breaking)],
            "action": "publish",
            "description": "Drop b",
        },
    )
    assert refused.status_code == 422
    html = refused.content.decode()
    assert 'name="acknowledge_breaking"' in html and 'data-testid="kept-files"' in html
    assert "Drop b" in html
    # Publish again from the kept files, acknowledging, without choosing the files again.
    again = client.post(
        url,
        {
            "kept_name": "c.yaml",
            "kept_body": breaking.decode(),
            "acknowledge_breaking": "1",
            "action": "publish",
        },
    )
    assert again.status_code == 302
    version = ConnectorVersion.objects.get(project=tenancy.project, version="1.1.1")
    entry = AuditEntry.objects.filter(action="connector_version.published").latest("id")
    assert (
        entry.after is not None
        and entry.after["acknowledged_breaking"] is True
        and entry.target_id == str(version.pk)
    )


def test_a_projects_custom_wording_never_shows_in_another_project(tenancy: Tenancy) -> None:
    system = Actor.system()
    secret_title = connector_yaml(
        key="payroll_x", title="Tenant A Internal Payroll", description="A only"
    )
    connector_version_push(actor=system, project=tenancy.other_project, files=[("c", secret_title)])
    connector_version_push(
        actor=system,
        project=tenancy.project,
        files=[("c", connector_yaml(key="payroll_x", title="Our Payroll", description="Ours"))],
    )
    client = tenancy.client("viewer")
    catalogue = client.get(reverse("connector_list", args=[tenancy.project.slug])).content.decode()
    detail = client.get(
        reverse("connector_detail", args=[tenancy.project.slug, "payroll_x"])
    ).content.decode()
    for html in (catalogue, detail):
        assert "Our Payroll" in html and "Tenant A" not in html and "A only" not in html
    from tests.factories import make_api_key

    key = make_api_key(tenancy.project)[1]
    body = Client(headers={"Authorization": f"Bearer {key}"}).get("/api/v1/connectors").json()
    assert [(c["key"], c["title"], c["description"]) for c in body] == [
        ("payroll_x", "Our Payroll", "Ours")
    ]


def test_upload_finds_the_main_file_whatever_the_order(tenancy: Tenancy) -> None:
    main = (
        b"info: {title: Deals, key: deals_crm, version: 1.0.0}\nbaseUrl: https://api.example.com\n"
        b"authentication: {type: basic}\nactions:\n  - $ref: deals_crm.deals\n"
    )
    partial = (
        b"- {actionId: list_deals, categories: [crm], actionType: list, label: L, description: D}\n"
    )
    response = tenancy.client("admin").post(
        reverse("connector_upload", args=[tenancy.project.slug]),
        {
            "files": [
                SimpleUploadedFile("deals.yaml", partial),
                SimpleUploadedFile("connector.yaml", main),
            ]
        },
    )
    assert response.status_code == 302, response.content.decode()[:500]
    version = ConnectorVersion.objects.get(connector__key="deals_crm")
    assert [name for name, _ in version.source_files] == ["connector.yaml", "deals.yaml"]


def test_a_publish_that_moves_a_profile_across_a_major_asks_first(
    tenancy: Tenancy, versions: dict[str, ConnectorVersion]
) -> None:
    from profiles.services import profile_create
    from tests.factories import make_connection

    profile = profile_create(
        actor=Actor.system(), project=tenancy.project, connector_key="acme_crm", name="prod"
    )
    make_connection(profile, "u1")
    make_connection(profile, "u2")
    client = tenancy.client("admin")
    url = reverse("connector_upload", args=[tenancy.project.slug])
    major = connector_yaml(version="2.0.0", actions=("a", "b"), auth_type="oauth2")
    asked = client.post(url, {"files": [SimpleUploadedFile("c.yaml", major)], "action": "publish"})
    html = asked.content.decode()
    assert asked.status_code == 409 and 'data-testid="moves-guard"' in html
    assert "prod</strong>: 1.1.0 → 2.0.0" in html and "2 connections must re-authenticate" in html
    assert 'name="confirm_moves"' in html and 'data-testid="kept-files"' in html
    assert not ConnectorVersion.objects.filter(version="2.0.0").exists()
    # A draft needs no confirmation (it moves nothing); a confirmed publish goes through.
    kept = {"kept_name": "c.yaml", "kept_body": major.decode(), "action": "publish"}
    assert client.post(url, {**kept, "confirm_moves": "1"}).status_code == 302
    assert ConnectorVersion.objects.filter(version="2.0.0", published_at__isnull=False).exists()


def test_compare_shows_a_diff_by_section_with_levels(tenancy: Tenancy) -> None:
    system = Actor.system()
    old = connector_version_push(
        actor=system, project=None, files=[("c", connector_yaml(actions=("a", "b")))]
    ).version
    new = connector_version_push(
        actor=system,
        project=None,
        files=[("c", connector_yaml(version="2.0.0", actions=("a", "c"), auth_type="oauth2"))],
        acknowledge_breaking=True,
    ).version
    url = reverse("version_compare", args=[tenancy.project.slug, "acme_crm"])
    html = tenancy.client("viewer").get(url, {"a": old.pk, "b": new.pk}).content.decode()
    for section in ("auth", "actions"):
        assert f'data-testid="diff-section-{section}"' in html
    actions = html[html.index('data-testid="diff-section-actions"') :]
    actions = actions[: actions.index("</section>")]
    assert 'data-kind="removed" data-level="major"' in actions  # action b removed
    assert 'data-kind="added" data-level="minor"' in actions  # action c added
    assert "− removed" in actions and "+ added" in actions
    auth = html[html.index('data-testid="diff-section-auth"') :]
    assert 'data-level="major"' in auth[: auth.index("</section>")]
    assert 'data-testid="raw-json"' in html and "<details" in html
