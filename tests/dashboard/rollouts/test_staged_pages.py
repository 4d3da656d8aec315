"""The profile page's rollout panel, the new-rollout form and the transitions' confirmations:
who may see and do what (the matrix), what the panel says, and query counts that do not grow."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from profiles.models import ConnectorProfile
from projects.services import Actor
from rollouts.models import Rollout
from rollouts.services import staged
from tests.conftest import WHO, Tenancy
from tests.factories import make_connection, pin_profile, publish_version

pytestmark = pytest.mark.django_db
MANAGERS = ("owner", "admin")


@pytest.fixture
def profile(tenancy: Tenancy) -> ConnectorProfile:
    publish_version(tenancy.project, "1.2.0")
    publish_version(tenancy.project, "1.3.0")
    profile = pin_profile(tenancy.project, "production", "1.2.0")
    for _ in range(4):
        make_connection(profile)
    return profile


def start(profile: ConnectorProfile) -> Rollout:
    return staged.rollout_start(
        actor=Actor.system(),
        profile=profile,
        to_version="1.3.0",
        keep_pin=False,
        target_pin="1.x.x",
        knobs=staged.Settings(steps=[25, 50, 100]),
    )


def expected(who: str, allowed: bool) -> int:
    if who == "anonymous":
        return 302
    if who == "stranger":
        return 404
    return 200 if allowed else 403


@pytest.mark.parametrize("who", WHO)
def test_matrix(tenancy: Tenancy, profile: ConnectorProfile, who: str) -> None:
    slug, pid = tenancy.project.slug, profile.public_id
    client = tenancy.client(who)
    new = reverse("rollout_new", args=[slug, pid])
    assert client.get(new).status_code == expected(who, who in MANAGERS)
    body = {
        "to_version": "1.3.0",
        "target_pin": "1.x.x",
        "steps": "25, 50, 100",
        "min_soak_minutes": 10,
        "min_requests": 20,
        "max_error_rate_increase": 0.05,
        "on_regression": "pause",
        "auto_advance": "on",
    }
    started = client.post(new, body)
    allowed = who in MANAGERS
    assert started.status_code == (302 if allowed or who == "anonymous" else expected(who, False))
    assert Rollout.objects.exists() == allowed
    if not allowed:
        start(profile)
    page = client.get(reverse("profile_detail", args=[slug, pid]))
    assert page.status_code == expected(who, True)
    if page.status_code == 200:
        html = page.content.decode()
        assert 'data-testid="rollout-panel"' in html and "1.2.0 → 1.3.0" in html
        assert ('data-testid="rollout-advance"' in html) == allowed
    advance = reverse("rollout_transition", args=[slug, pid, "advance"])
    assert client.get(advance).status_code == expected(who, allowed)
    done = client.post(advance, {"confirmed": "yes"})
    assert done.status_code == (302 if allowed or who == "anonymous" else expected(who, False))
    assert Rollout.objects.get().step_index == (1 if allowed else 0)
    assert client.put(advance).status_code == 405


def test_confirmation_states_what_moves_and_a_plain_post_does_nothing(
    tenancy: Tenancy, profile: ConnectorProfile
) -> None:
    start(profile)
    client = tenancy.client("owner")
    url = reverse("rollout_transition", args=[tenancy.project.slug, profile.public_id, "promote"])
    page = client.get(url).content.decode()
    assert "the profile&#x27;s pin becomes 1.x.x" in page or "pin becomes 1.x.x" in page
    assert client.post(url, {}).status_code == 200  # not confirmed: the question again
    assert Rollout.objects.get().state == "running"
    assert client.post(url, {"confirmed": "yes"}).status_code == 302
    assert Rollout.objects.get().state == "promoted"


def test_a_bad_form_is_400_and_starts_nothing(tenancy: Tenancy, profile: ConnectorProfile) -> None:
    client = tenancy.client("owner")
    url = reverse("rollout_new", args=[tenancy.project.slug, profile.public_id])
    response = client.post(url, {"to_version": "1.3.0", "target_pin": "1.x.x", "steps": "50, 5"})
    assert response.status_code == 400 and not Rollout.objects.exists()


def _queries(client: Any, url: str) -> int:
    cache.clear()
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_panel_costs_the_same_whatever_the_data(
    tenancy: Tenancy, profile: ConnectorProfile
) -> None:
    rollout = start(profile)
    client = tenancy.client("owner")
    url = reverse("profile_detail", args=[tenancy.project.slug, profile.public_id])
    _queries(client, url)
    before = _queries(client, url)
    for _ in range(10):
        make_connection(profile)
    staged.rollout_advance(actor=Actor.system(), rollout=rollout)
    assert _queries(client, url) == before


def test_the_connection_page_says_which_version_serves_it_and_why(
    tenancy: Tenancy, profile: ConnectorProfile
) -> None:
    from connections.models import Connection

    client = tenancy.client("owner")
    first = Connection.objects.filter(profile=profile).order_by("pk").first()
    assert first is not None
    url = reverse("connection_detail", args=[tenancy.project.slug, first.public_id])
    assert 'data-testid="serving-version"' not in client.get(url).content.decode()
    staged.rollout_start(
        actor=Actor.system(),
        profile=profile,
        to_version="1.3.0",
        keep_pin=False,
        target_pin="1.x.x",
        include=[first.public_id],
        knobs=staged.Settings(steps=[25, 100]),
    )
    html = client.get(url).content.decode()
    assert 'data-testid="serving-version"' in html
    assert "on the include list of the rollout to 1.3.0" in html
    home = client.get(reverse("project_home", args=[tenancy.project.slug])).content.decode()
    assert 'data-testid="overview-rollouts"' in home and "1.2.0 → 1.3.0" in home


@pytest.mark.parametrize("who", WHO)
def test_migration_schedule_form(tenancy: Tenancy, profile: ConnectorProfile, who: str) -> None:
    from rollouts.models import ProfileMigration
    from rollouts.services import migration_create

    target = pin_profile(tenancy.project, "v2", "1.3.0")
    migration = migration_create(
        actor=Actor.system(),
        project=tenancy.project,
        from_profile=profile,
        to_profile=target,
        title="Move",
    )
    slug = tenancy.project.slug
    url = reverse("migration_schedule", args=[slug, migration.public_id])
    body = {"deadline": "2099-01-31", "deadline_action": "disable", "reminder_days": "7, 1"}
    response = tenancy.client(who).post(url, body)
    allowed = who in MANAGERS
    assert response.status_code == (302 if allowed or who == "anonymous" else expected(who, False))
    migration = ProfileMigration.objects.get(pk=migration.pk)
    assert migration.deadline_action == ("disable" if allowed else "none")
    assert migration.reminder_days == ([7, 1] if allowed else [])
    if allowed:
        page = tenancy.client(who).get(
            reverse("migration_detail", args=[slug, migration.public_id])
        )
        html = page.content.decode()
        assert 'data-testid="reminder-schedule"' in html and "not sent yet" in html
        assert "will be <strong>disabled</strong>" in html


def test_publish_time_choices_move_stage_and_hold(tenancy: Tenancy) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from connectors.models import ConnectorVersion
    from tests.factories import connector_yaml

    publish_version(tenancy.project, "1.2.0")
    moved = pin_profile(tenancy.project, "moved", "1.x.x")
    staged_one = pin_profile(tenancy.project, "staged", "1.x.x")
    held = pin_profile(tenancy.project, "held", "1.x.x")
    make_connection(staged_one)
    client = tenancy.client("admin")
    url = reverse("connector_upload", args=[tenancy.project.slug])
    preview = client.post(
        reverse("connector_upload_preview", args=[tenancy.project.slug]),
        {"files": [SimpleUploadedFile("c.yaml", connector_yaml(version="1.3.0"))]},
    ).content.decode()
    assert f'name="choice_{staged_one.public_id}"' in preview and "Stage (a rollout)" in preview
    response = client.post(
        url,
        {
            "files": [SimpleUploadedFile("c.yaml", connector_yaml(version="1.3.0"))],
            "action": "publish",
            f"choice_{staged_one.public_id}": "stage",
            f"choice_{held.public_id}": "hold",
        },
    )
    assert response.status_code == 302, response.content.decode()[:500]
    assert ConnectorVersion.objects.filter(version="1.3.0", published_at__isnull=False).exists()
    pins = dict(ConnectorProfile.objects.values_list("name", "pin"))
    assert pins == {"moved": "1.x.x", "staged": "1.2.0", "held": "1.2.0"}
    rollout = Rollout.objects.get()
    assert (rollout.profile_id, rollout.target_pin) == (staged_one.pk, "1.x.x")
    assert (rollout.from_version.version, rollout.to_version.version) == ("1.2.0", "1.3.0")
    assert moved.pk != held.pk


def test_stage_this_change_from_the_pin_editor(tenancy: Tenancy, profile: ConnectorProfile) -> None:
    client = tenancy.client("admin")
    url = reverse("profile_pin", args=[tenancy.project.slug, profile.public_id])
    response = client.post(url, {"pin": "1.x.x", "action": "stage"})
    assert response.status_code == 302
    rollout = Rollout.objects.get()
    assert (rollout.to_version.version, rollout.target_pin, rollout.percent) == (
        "1.3.0",
        "1.x.x",
        5,
    )
    assert ConnectorProfile.objects.get(pk=profile.pk).pin == "1.2.0"  # until promotion
    again = client.post(url, {"pin": "1.2.0", "action": "stage"})
    assert again.status_code == 400 and Rollout.objects.count() == 1
