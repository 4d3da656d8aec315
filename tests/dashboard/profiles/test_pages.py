"""Profile pages: permissions, the pin editor over HTMX, query counts."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from connectors.models import Connector
from profiles.models import ConnectorProfile
from profiles.services import connector_version_push, profile_create
from projects.crypto import decrypt_json
from projects.models import AuditEntry, Project
from projects.services import Actor
from tests.conftest import WHO, Tenancy
from tests.factories import connector_yaml, make_profile

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
RANK = {"viewer": 1, "member": 2, "admin": 3, "owner": 4}


def publish(project: Project | None, version: str, **kw: Any) -> None:
    connector_version_push(
        actor=SYSTEM,
        project=project,
        files=[("c.yaml", connector_yaml(version=version, **kw))],
        acknowledge_breaking=True,
    )


@pytest.fixture
def profile(tenancy: Tenancy) -> ConnectorProfile:
    publish(None, "1.0.0")
    publish(None, "1.1.0", actions=("list_contacts", "list_deals"))
    publish(None, "2.0.0", auth_type="oauth2")
    return profile_create(
        actor=SYSTEM,
        project=tenancy.project,
        connector_key="acme_crm",
        name="production",
        pin="1.x.x",
    )


@pytest.mark.parametrize("who", WHO)
def test_matrix(tenancy: Tenancy, profile: ConnectorProfile, who: str) -> None:
    slug = tenancy.project.slug
    client = tenancy.client(who)
    pages = [
        (reverse("profile_list", args=[slug]), 1),
        (reverse("profile_detail", args=[slug, profile.public_id]), 1),
        (reverse("profile_pin_preview", args=[slug, profile.public_id]) + "?pin=2.x.x", 1),
        (reverse("profile_new", args=[slug]), 3),
    ]
    for url, need in pages:
        status = client.get(url).status_code
        expected = (
            302
            if who == "anonymous"
            else 404
            if who == "stranger"
            else 403
            if RANK[who] < need
            else 200
        )
        assert status == expected, (url, status)
    pin = client.post(
        reverse("profile_pin", args=[slug, profile.public_id]),
        {"pin": "1.0.0", "action": "save", "confirm": "1"},
    )
    allowed = who in ("owner", "admin")
    assert pin.status_code == (
        302 if allowed or who == "anonymous" else 404 if who == "stranger" else 403
    )
    profile.refresh_from_db()
    assert profile.pin == ("1.0.0" if allowed else "1.x.x")


def test_profile_of_another_project_is_404(tenancy: Tenancy, profile: ConnectorProfile) -> None:
    other_slug = tenancy.other_project.slug
    client = tenancy.client("stranger")
    assert (
        client.get(reverse("profile_detail", args=[other_slug, profile.public_id])).status_code
        == 404
    )
    assert (
        client.post(
            reverse("profile_pin", args=[other_slug, profile.public_id]), {"pin": "1.0.0"}
        ).status_code
        == 404
    )


def test_pin_preview_over_htmx(tenancy: Tenancy, profile: ConnectorProfile) -> None:
    client = tenancy.client("member")
    url = reverse("profile_pin_preview", args=[tenancy.project.slug, profile.public_id])

    def preview(pin: str) -> str:
        response = client.get(url, {"pin": pin}, headers={"HX-Request": "true"})
        assert response.status_code == 200
        html = response.content.decode()
        assert html.lstrip().startswith('<div id="pin-preview"') and "<html" not in html
        return html

    assert "npm-style range" in preview("^1.2.0")
    assert "npm-style range" in preview("~1.2")
    assert "Accepted pins" in preview("1.2")
    assert "matches no published version" in preview("7.x.x")
    moving = preview("2.x.x")
    assert "Would resolve to 2.0.0" in moving and "1.1.0 → 2.0.0" in moving
    assert "major" in moving and "connections must re-authenticate" in moving
    back = preview("1.0.0")
    assert "1.1.0 → 1.0.0 · major" in back and "you will be asked to confirm" in back
    assert "No change from today" in preview("1.x.x")
    assert "Never moves" in preview("1.0.0")
    profile.refresh_from_db()
    assert (
        profile.pin == "1.x.x"
        and not AuditEntry.objects.filter(action__startswith="profile.pin").exists()
    )


def test_save_and_reset_pin(tenancy: Tenancy, profile: ConnectorProfile) -> None:
    client = tenancy.client("admin")
    url = reverse("profile_pin", args=[tenancy.project.slug, profile.public_id])
    bad = client.post(url, {"pin": "^1.0.0", "action": "save"})
    assert bad.status_code == 400 and "npm-style" in bad.content.decode()
    # The address a refused save leaves in the browser leads back to the page (not a 405);
    # another tenant's profile id stays a 404.
    back = client.get(url)
    assert back.status_code == 302 and back["Location"] == reverse(
        "profile_detail", args=[tenancy.project.slug, profile.public_id]
    )
    stranger = tenancy.client("stranger")
    assert stranger.get(url).status_code == 404
    # 1.1.0 → 1.0.0 drops an action: confirmed like a major.
    saved = client.post(url, {"pin": "1.0.x", "action": "save", "confirm": "1"})
    assert saved.status_code == 302
    profile.refresh_from_db()
    assert profile.pin == "1.0.x"
    asked = client.post(url, {"pin": "1.0.x", "action": "reset"})  # lands on 2.0.0: a major
    assert asked.status_code == 200 and 'data-testid="pin-confirm"' in asked.content.decode()
    confirmed = {"pin": "1.0.x", "action": "reset", "confirm": "1"}
    assert client.post(url, confirmed).status_code == 302
    profile.refresh_from_db()
    assert profile.pin is None
    entries = AuditEntry.objects.filter(action__startswith="profile.pin").order_by("id")
    assert [e.action for e in entries] == ["profile.pin_changed", "profile.pin_removed"]
    assert entries[0].before["resolved"] == "1.1.0" and entries[0].after["resolved"] == "1.0.0"


def test_secret_setup_fields_are_write_only(tenancy: Tenancy) -> None:
    yaml_doc = connector_yaml(key="orbit_hr", auth_type="oauth2").replace(
        b"configFields:",
        b"setupFields:\n  - {key: client_id, label: Client ID, type: string, required: true}\n"
        b"  - {key: client_secret, label: Client secret, type: password, required: true, secret: true}\n  configFields:",
    )
    connector_version_push(actor=SYSTEM, project=None, files=[("c.yaml", yaml_doc)])
    profile = profile_create(
        actor=SYSTEM, project=tenancy.project, connector_key="orbit_hr", name="p"
    )
    client = tenancy.client("admin")
    save = reverse("profile_save", args=[tenancy.project.slug, profile.public_id])
    secret = "s3cr3t-value-do-not-show-0042"
    client.post(save, {"name": "p", "setup_client_id": "abc", "setup_client_secret": secret})
    profile.refresh_from_db()
    assert profile.setup_values == {"client_id": "abc"}
    assert secret not in profile.setup_secrets
    assert decrypt_json(profile.setup_secrets) == {"client_secret": secret}
    page = client.get(
        reverse("profile_detail", args=[tenancy.project.slug, profile.public_id])
    ).content.decode()
    assert secret not in page and "type to replace" in page
    client.post(save, {"name": "p", "setup_client_id": "abc", "setup_client_secret": ""})  # keep
    profile.refresh_from_db()
    assert decrypt_json(profile.setup_secrets) == {"client_secret": secret}
    assert secret not in str(list(AuditEntry.objects.values("before", "after")))


def _queries(client: Any, url: str) -> int:
    cache.clear()  # a cold cache: the worst case
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_query_counts_do_not_grow(tenancy: Tenancy, profile: ConnectorProfile) -> None:
    client = tenancy.client("viewer")
    slug = tenancy.project.slug
    urls = [
        reverse("profile_list", args=[slug]),
        reverse("profile_detail", args=[slug, profile.public_id]),
    ]
    for url in urls:
        _queries(client, url)
    before = [_queries(client, url) for url in urls]
    connector = Connector.objects.get()
    for n in range(30):
        publish(None, f"1.{n + 2}.0", actions=("list_contacts", "list_deals"))
        ConnectorProfile.objects.create(
            project=tenancy.project,
            connector=connector,
            name=f"p{n}",
            pin=["latest", "1.x.x", "1.1.0", None][n % 4],
        )
    publish(None, "3.0.0", key="other_one")
    assert [_queries(client, url) for url in urls] == before


def test_saving_a_rename_names_the_profile_by_its_new_name(tenancy: Tenancy) -> None:
    profile = make_profile(tenancy.project, "acme_crm", "old-name")
    client = tenancy.client("admin")
    save = reverse("profile_save", args=[tenancy.project.slug, profile.public_id])
    page = client.post(save, {"name": "new-name"}, follow=True).content.decode()
    assert "Profile new-name saved." in page and "Profile old-name saved." not in page


def test_a_move_across_a_major_asks_first(tenancy: Tenancy, profile: ConnectorProfile) -> None:
    """Saving 2.x.x (major, auth changed) shows a confirmation step and saves nothing; the
    confirmed post moves the pin and the audit entry counts the connections moved."""
    from tests.factories import make_connection

    for n in range(3):
        make_connection(profile, f"user-{n}")
    client = tenancy.client("admin")
    url = reverse("profile_pin", args=[tenancy.project.slug, profile.public_id])
    step = client.post(url, {"pin": "2.x.x", "action": "save"})
    html = step.content.decode()
    assert step.status_code == 200 and 'data-testid="pin-confirm"' in html
    assert "1.1.0 → 2.0.0" in html and "major" in html
    assert "3 connections must re-authenticate" in html
    profile.refresh_from_db()
    assert profile.pin == "1.x.x" and not AuditEntry.objects.filter(action="profile.pin_changed")
    # A reset that lands on 2.0.0 is guarded the same way.
    reset = client.post(url, {"pin": "1.x.x", "action": "reset"}).content.decode()
    assert 'data-testid="pin-confirm"' in reset and 'name="action" value="reset"' in reset
    profile.refresh_from_db()
    assert profile.pin == "1.x.x"
    # Back inside the major line, 1.1.0 → 1.0.0 drops the action list_deals: breaking for
    # its callers (major), so it asks first too (issue 30: it was saved in one click).
    down = client.post(url, {"pin": "1.0.0", "action": "save"})
    html = down.content.decode()
    assert down.status_code == 200 and 'data-testid="pin-confirm"' in html
    assert "1.1.0 → 1.0.0" in html and "major" in html
    profile.refresh_from_db()
    assert profile.pin == "1.x.x"
    assert client.post(url, {"pin": "1.0.0", "action": "save", "confirm": "1"}).status_code == 302
    entry = AuditEntry.objects.get(action="profile.pin_changed")
    assert entry.after is not None and entry.after["connections_moved"] == 3
    done = client.post(url, {"pin": "2.x.x", "action": "save", "confirm": "1"})
    assert done.status_code == 302
    profile.refresh_from_db()
    assert profile.pin == "2.x.x"
    last = AuditEntry.objects.filter(action="profile.pin_changed").latest("id")
    assert last.after is not None
    assert last.after["connections_moved"] == 3 and last.after["resolved"] == "2.0.0"


def test_read_only_wording_matches_the_role(tenancy: Tenancy, profile: ConnectorProfile) -> None:
    url = reverse("profile_detail", args=[tenancy.project.slug, profile.public_id])
    member = tenancy.client("member").get(url).content.decode()
    assert "Viewers cannot" not in member and "you are a member" in member
    assert "you are a viewer" in tenancy.client("viewer").get(url).content.decode()
    assert "Save pin" in tenancy.client("admin").get(url).content.decode()
