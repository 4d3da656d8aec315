"""Every row of the resolution contract, custom precedence, caching and the subscribers rule."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from connections.services.pins import profile_set_pin
from connections.services.versions import connector_version_delete
from connectors.models import ConnectorVersion
from profiles.models import ConnectorProfile
from profiles.models import ConnectorProfile as _Profile
from profiles.pins import parse_pin
from profiles.resolution import Resolved, resolve, resolve_uncached
from profiles.selectors import resolve_profile as _resolve_profile
from profiles.services import connector_version_push, profile_create
from projects.models import Project
from projects.services import Actor, ConflictError, ServiceError
from tests.factories import connector_yaml, make_project

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


def resolve_profile(profile: _Profile) -> Resolved:
    resolved = _resolve_profile(profile)
    assert resolved is not None
    return resolved


def publish(project: Project | None, version: str, *, draft: bool = False) -> ConnectorVersion:
    return connector_version_push(
        actor=SYSTEM,
        project=project,
        files=[("c.yaml", connector_yaml(version=version))],
        draft=draft,
        acknowledge_breaking=True,
    ).version


@pytest.fixture
def world() -> dict[str, Any]:
    project, other = make_project(), make_project()
    for v in ["1.0.0", "1.2.0", "1.2.3", "1.3.0-rc.1", "2.0.0"]:
        publish(None, v)
    publish(None, "2.1.0", draft=True)
    for v in ["1.2.5", "1.4.0"]:
        publish(project, v)
    publish(project, "3.0.0", draft=True)
    publish(other, "9.0.0")
    return {
        "project": project,
        "other": other,
        "connector_id": ConnectorVersion.objects.values_list("connector_id", flat=True)[0],
    }


TABLE = [
    (None, "1.4.0", "custom"),  # default: highest custom when any custom exists
    ("latest", "1.4.0", "custom"),
    ("latest_builtin", "2.0.0", "builtin"),
    ("latest_custom", "1.4.0", "custom"),
    ("1.x.x", "1.4.0", "custom"),  # custom precedence inside the major line
    ("2.x.x", "2.0.0", "builtin"),  # no custom 2.x: the built-in
    ("1.2.x", "1.2.5", "custom"),  # custom 1.2.5 over built-in 1.2.3
    ("1.0.x", "1.0.0", "builtin"),
    ("1.2.0", "1.2.0", "builtin"),
    ("1.3.0-rc.1", "1.3.0-rc.1", "builtin"),  # pre-releases only by exact pin
    ("1.3.x", None, None),  # the rc is not a candidate for a line
    ("3.x.x", None, None),  # drafts never resolve
    ("3.0.0", None, None),
    ("2.1.0", None, None),  # a built-in draft neither
    ("9.x.x", None, None),  # another project's custom versions are invisible
    ("4.x.x", None, None),
]


@pytest.mark.parametrize(("pin", "version", "kind"), TABLE, ids=[str(row[0]) for row in TABLE])
def test_resolution_table(
    world: dict[str, Any], pin: str | None, version: str | None, kind: str | None
) -> None:
    with CaptureQueriesContext(connection) as ctx:
        resolved = resolve_uncached(world["project"], world["connector_id"], parse_pin(pin))
    assert len(ctx.captured_queries) <= 2
    if version is None:
        assert resolved is None
    else:
        assert resolved is not None
        assert (resolved.version, "builtin" if resolved.builtin else "custom") == (version, kind)


def test_default_resolution_without_custom_versions(world: dict[str, Any]) -> None:
    bare = make_project()
    resolved = resolve_uncached(bare, world["connector_id"], parse_pin(None))
    assert resolved is not None and (resolved.version, resolved.builtin) == ("2.0.0", True)


def test_equal_numbers_custom_wins(world: dict[str, Any]) -> None:
    project = world["project"]
    publish(project, "2.0.0")
    for pin in (None, "latest", "2.x.x", "2.0.x", "2.0.0"):
        resolved = resolve_uncached(project, world["connector_id"], parse_pin(pin))
        assert resolved is not None and resolved.version == "2.0.0" and not resolved.builtin, pin
    builtin = resolve_uncached(project, world["connector_id"], parse_pin("latest_builtin"))
    assert builtin is not None and builtin.builtin


def test_unmatched_or_invalid_pins_are_refused_when_set(world: dict[str, Any]) -> None:
    project = world["project"]
    profile = profile_create(
        actor=SYSTEM, project=project, connector_key="acme_crm", name="prod", pin="1.x.x"
    )
    with pytest.raises(ServiceError) as refused:
        profile_set_pin(actor=SYSTEM, profile=profile, pin="4.x.x")
    assert (
        "matches no published version" in refused.value.message and "1.4.0" in refused.value.message
    )
    with pytest.raises(ServiceError, match="npm-style"):
        profile_set_pin(actor=SYSTEM, profile=profile, pin="^1.2.0")
    with pytest.raises(ServiceError):
        profile_create(
            actor=SYSTEM, project=project, connector_key="acme_crm", name="x", pin="3.0.0"
        )
    profile.refresh_from_db()
    assert profile.pin == "1.x.x"
    assert ConnectorProfile.objects.count() == 1


def test_auto_update_right_after_publish_and_exact_pins_never_move(world: dict[str, Any]) -> None:
    project = world["project"]
    line = profile_create(
        actor=SYSTEM, project=project, connector_key="acme_crm", name="line", pin="1.x.x"
    )
    exact = profile_create(
        actor=SYSTEM, project=project, connector_key="acme_crm", name="exact", pin="1.4.0"
    )
    assert resolve_profile(line).version == "1.4.0"  # warms the cache
    assert resolve_profile(exact).version == "1.4.0"
    publish(project, "1.5.0")
    assert resolve_profile(line).version == "1.5.0", "no stale answer from the cache"
    assert resolve_profile(exact).version == "1.4.0"


def test_pin_change_is_seen_at_once(world: dict[str, Any]) -> None:
    profile = profile_create(
        actor=SYSTEM, project=world["project"], connector_key="acme_crm", name="p"
    )
    assert resolve_profile(profile).version == "1.4.0"
    profile = profile_set_pin(actor=SYSTEM, profile=profile, pin="latest_builtin")
    assert resolve_profile(profile).version == "2.0.0"


def test_warm_cache_needs_no_query(world: dict[str, Any]) -> None:
    pin = parse_pin("1.x.x")
    resolve(world["project"], world["connector_id"], pin)
    with CaptureQueriesContext(connection) as ctx:
        resolved = resolve(world["project"], world["connector_id"], pin)
    assert len(ctx.captured_queries) == 0
    assert resolved is not None and resolved.version == "1.4.0"


def test_subscribers_block_deletion(world: dict[str, Any]) -> None:
    project = world["project"]
    Project.objects.filter(pk=project.pk).update(immutable_versioning=False)
    project.refresh_from_db()
    profile_create(
        actor=SYSTEM, project=project, connector_key="acme_crm", name="prod", pin="1.4.0"
    )
    profile_create(
        actor=SYSTEM, project=project, connector_key="acme_crm", name="staging", pin="latest"
    )
    v140 = ConnectorVersion.objects.get(project=project, version="1.4.0")
    with pytest.raises(ConflictError) as refused:
        connector_version_delete(actor=SYSTEM, version=v140)
    assert refused.value.status == 409
    assert "prod" in refused.value.message and "staging" in refused.value.message
    v125 = ConnectorVersion.objects.get(project=project, version="1.2.5")
    connector_version_delete(actor=SYSTEM, version=v125)  # nobody resolves to it
    assert ConnectorVersion.objects.filter(pk=v140.pk).exists()


def test_first_profile_is_the_default_and_there_is_only_one(world: dict[str, Any]) -> None:
    project = world["project"]
    a = profile_create(actor=SYSTEM, project=project, connector_key="acme_crm", name="a")
    b = profile_create(
        actor=SYSTEM, project=project, connector_key="acme_crm", name="b", is_default=True
    )
    a.refresh_from_db()
    assert b.is_default and not a.is_default
    assert ConnectorProfile.objects.filter(is_default=True).count() == 1


def test_bulk_resolution_agrees_with_the_query_for_every_row(world: dict[str, Any]) -> None:
    """The list pages resolve many profiles at once in Python; it must match the SQL path."""
    from django.core.cache import cache

    from profiles.resolution import resolve_many

    project, connector_id = world["project"], world["connector_id"]
    pins = [parse_pin(pin) for pin, _v, _k in TABLE]
    cache.clear()
    bulk = resolve_many(project, [(connector_id, pin) for pin in pins])
    cached = resolve_many(project, [(connector_id, pin) for pin in pins])  # now from the cache
    for pin in pins:
        assert bulk[(connector_id, pin.text)] == resolve_uncached(project, connector_id, pin), pin
        assert cached[(connector_id, pin.text)] == bulk[(connector_id, pin.text)]


def test_a_lost_generation_never_brings_back_old_answers(world: dict[str, Any]) -> None:
    """Eviction or a cache failover drops the generation key; old entries must stay dead."""
    from django.core.cache import cache

    from connectors.cache import generation_key

    project = world["project"]
    line = profile_create(
        actor=SYSTEM, project=project, connector_key="acme_crm", name="l", pin="1.x.x"
    )
    assert resolve_profile(line).version == "1.4.0"  # cached under the current generation
    cache.delete(generation_key(world["connector_id"]))
    assert resolve_profile(line).version == "1.4.0"
    publish(project, "1.5.0")
    cache.delete(generation_key(world["connector_id"]))
    publish(project, "1.6.0")
    assert resolve_profile(line).version == "1.6.0"
