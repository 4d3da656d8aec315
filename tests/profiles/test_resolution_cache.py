"""The resolution cache keeps tenants and connectors apart and never outlives a publish; the
bulk path agrees with the single one, entry for entry, in one query."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.core.cache.backends import base as cache_base
from django.core.cache.backends import locmem
from django.db import connection
from django.test.utils import CaptureQueriesContext

from profiles.pins import parse_pin
from profiles.resolution import (
    CACHE_TIMEOUT,
    Resolved,
    candidates,
    describe,
    pin_accepts,
    published_numbers,
    resolve,
    resolve_many,
    resolve_uncached,
)
from projects.models import Project
from tests.factories import make_project, publish_version, same_versions_generation

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> SimpleNamespace:
    """acme_crm: built-in 1.0.0 and 1.1.0, custom 1.5.0 in ``mine`` only; orbit_hr: built-in
    2.0.0 (higher than anything of acme_crm); ``bare`` has no custom version at all."""
    mine, bare = make_project(), make_project()
    publish_version(None, "1.0.0")
    crm = publish_version(None, "1.1.0").connector_id
    custom = publish_version(mine, "1.5.0")
    hr = publish_version(None, "2.0.0", key="orbit_hr").connector_id
    return SimpleNamespace(mine=mine, bare=bare, crm=crm, hr=hr, custom=custom)


def seen(resolved: Resolved | None) -> tuple[str, str] | None:
    return None if resolved is None else (resolved.version, resolved.owner)


# --- Tenants: two projects, one pin ------------------------------------------------------------

PER_PROJECT = [
    # pin, in the project with a custom version, in the project without one
    (None, ("1.5.0", "mine"), ("1.1.0", "platform")),
    ("latest", ("1.5.0", "mine"), ("1.1.0", "platform")),
    ("1.x.x", ("1.5.0", "mine"), ("1.1.0", "platform")),
    ("latest_custom", ("1.5.0", "mine"), None),
    ("1.5.0", ("1.5.0", "mine"), None),
]


def _owner(world: SimpleNamespace, resolved: Resolved | None) -> tuple[str, str] | None:
    found = seen(resolved)
    if found and found[1] == world.mine.slug:
        return (found[0], "mine")
    return found


@pytest.mark.parametrize("mine_first", [True, False], ids=["mine first", "bare first"])
def test_one_projects_cached_resolution_never_answers_for_another(
    world: SimpleNamespace, mine_first: bool
) -> None:
    order = [world.mine, world.bare] if mine_first else [world.bare, world.mine]
    for text, in_mine, in_bare in PER_PROJECT:
        expected = {world.mine.pk: in_mine, world.bare.pk: in_bare}
        for project in order:  # the first one warms the cache for the pin
            got = _owner(world, resolve(project, world.crm, parse_pin(text)))
            assert got == expected[project.pk], (text, project.slug)


@pytest.mark.parametrize("mine_first", [True, False], ids=["mine first", "bare first"])
def test_bulk_resolution_keeps_projects_apart(world: SimpleNamespace, mine_first: bool) -> None:
    order = [world.mine, world.bare] if mine_first else [world.bare, world.mine]
    wanted = [(world.crm, parse_pin(text)) for text, _m, _b in PER_PROJECT]
    for _round in range(2):  # cold, then warm
        for project in order:
            got = resolve_many(project, wanted)
            column = 1 if project == world.mine else 2
            assert {pair[1]: _owner(world, value) for pair, value in got.items()} == {
                row[0]: row[column] for row in PER_PROJECT
            }, project.slug


def test_single_and_bulk_paths_share_entries_without_mixing_projects(
    world: SimpleNamespace,
) -> None:
    pins = [parse_pin(text) for text, _m, _b in PER_PROJECT]
    resolve_many(world.mine, [(world.crm, pin) for pin in pins])
    with CaptureQueriesContext(connection) as ctx:
        from_cache = [_owner(world, resolve(world.mine, world.crm, pin)) for pin in pins]
    assert len(ctx.captured_queries) == 0  # the bulk path's entries, unmatched ones included
    assert from_cache == [row[1] for row in PER_PROJECT]
    for pin, row in zip(pins, PER_PROJECT, strict=True):
        assert _owner(world, resolve(world.bare, world.crm, pin)) == row[2]
    got = resolve_many(world.bare, [(world.crm, pin) for pin in pins])
    assert [_owner(world, got[(world.crm, pin.text)]) for pin in pins] == [
        row[2] for row in PER_PROJECT
    ]


# --- Connectors: two connectors, one pin, the same generation --------------------------------


def test_one_connectors_cached_resolution_never_answers_for_another(
    world: SimpleNamespace,
) -> None:
    same_versions_generation(world.crm, world.hr)
    for pin in (parse_pin(None), parse_pin("latest_builtin")):
        assert seen(resolve(world.bare, world.crm, pin)) == ("1.1.0", "platform")
        assert seen(resolve(world.bare, world.hr, pin)) == ("2.0.0", "platform")
        assert seen(resolve(world.bare, world.crm, pin)) == ("1.1.0", "platform")


def test_bulk_resolution_keeps_connectors_apart(world: SimpleNamespace) -> None:
    same_versions_generation(world.crm, world.hr)
    latest, line = parse_pin("latest"), parse_pin("2.x.x")
    expected = {
        (world.crm, "latest"): ("1.5.0", world.mine.slug),
        (world.hr, "latest"): ("2.0.0", "platform"),
        (world.crm, "2.x.x"): None,
        (world.hr, "2.x.x"): ("2.0.0", "platform"),
    }
    wanted = [(world.crm, latest), (world.hr, latest), (world.crm, line), (world.hr, line)]
    assert {k: seen(v) for k, v in resolve_many(world.mine, wanted).items()} == expected
    assert {k: seen(v) for k, v in resolve_many(world.mine, wanted).items()} == expected
    # one connector warm, the other cold: the warm entries must not be borrowed
    for connector, first in ((world.hr, world.crm), (world.crm, world.hr)):
        same_versions_generation(world.crm, world.hr, value=5_000 + connector)
        resolve_many(world.mine, [(connector, latest), (connector, line)])
        got = resolve_many(world.mine, [(first, latest), (first, line)])
        assert {k: seen(v) for k, v in got.items()} == {
            k: v for k, v in expected.items() if k[0] == first
        }


def test_candidates_are_the_connectors_own(world: SimpleNamespace) -> None:
    assert sorted(candidates(world.mine, world.crm).values_list("version", flat=True)) == [
        "1.0.0",
        "1.1.0",
        "1.5.0",
    ]
    assert published_numbers(world.mine, world.crm) == ["1.5.0", "1.1.0", "1.0.0"]
    builtin = resolve_uncached(world.mine, world.crm, parse_pin("latest_builtin"))
    assert seen(builtin) == ("1.1.0", "platform")  # not orbit_hr's 2.0.0
    assert resolve_uncached(world.mine, world.crm, parse_pin("2.x.x")) is None


# --- Publishing between two reads -------------------------------------------------------------


def test_a_publish_between_two_bulk_reads_is_seen(world: SimpleNamespace) -> None:
    wanted = [(world.crm, parse_pin(t)) for t in ("latest", "1.x.x", "2.x.x", "latest_custom")]
    before = resolve_many(world.bare, wanted)
    assert {k[1]: seen(v) for k, v in before.items()} == {
        "latest": ("1.1.0", "platform"),
        "1.x.x": ("1.1.0", "platform"),
        "2.x.x": None,
        "latest_custom": None,
    }
    publish_version(world.bare, "2.0.0")
    after = resolve_many(world.bare, wanted)
    custom = ("2.0.0", world.bare.slug)
    assert {k[1]: seen(v) for k, v in after.items()} == {
        "latest": custom,
        "1.x.x": ("1.1.0", "platform"),
        "2.x.x": custom,
        "latest_custom": custom,
    }
    assert seen(resolve(world.bare, world.crm, parse_pin("2.x.x"))) == custom


def test_a_publish_between_two_single_reads_is_seen(world: SimpleNamespace) -> None:
    pin = parse_pin("2.x.x")
    assert resolve(world.mine, world.crm, pin) is None
    assert resolve(world.mine, world.crm, pin) is None
    publish_version(None, "2.1.0")
    assert seen(resolve(world.mine, world.crm, pin)) == ("2.1.0", "platform")


# --- Matching nothing is cached as such --------------------------------------------------------


def test_an_unmatched_pin_is_cached_as_nothing(world: SimpleNamespace) -> None:
    pin = parse_pin("7.x.x")
    assert resolve(world.mine, world.crm, pin) is None
    with CaptureQueriesContext(connection) as ctx:
        again = resolve(world.mine, world.crm, pin)
    assert again is None
    assert len(ctx.captured_queries) == 0
    bulk = [(world.crm, parse_pin("8.x.x")), (world.crm, parse_pin("latest_custom"))]
    assert resolve_many(world.bare, bulk) == {
        (world.crm, "8.x.x"): None,
        (world.crm, "latest_custom"): None,
    }
    with CaptureQueriesContext(connection) as ctx:
        warm = resolve_many(world.bare, bulk)
    assert warm == {(world.crm, "8.x.x"): None, (world.crm, "latest_custom"): None}
    assert len(ctx.captured_queries) == 0
    with CaptureQueriesContext(connection) as ctx:  # the bulk path's marker serves resolve()
        single = [resolve(world.bare, connector_id, pin) for connector_id, pin in bulk]
    assert single == [None, None]
    assert len(ctx.captured_queries) == 0


def test_latest_custom_without_custom_versions_in_the_bulk_path(world: SimpleNamespace) -> None:
    wanted = [
        (world.crm, parse_pin("latest_custom")),
        (world.crm, parse_pin("latest_builtin")),
        (world.crm, parse_pin(None)),
    ]
    got = resolve_many(world.bare, wanted)
    assert {k[1]: seen(v) for k, v in got.items()} == {
        "latest_custom": None,
        "latest_builtin": ("1.1.0", "platform"),
        None: ("1.1.0", "platform"),
    }
    for connector_id, pin in wanted:
        assert got[(connector_id, pin.text)] == resolve_uncached(world.bare, connector_id, pin)


# --- The bulk path: one query, whatever the pins ----------------------------------------------


def test_bulk_resolution_is_one_query_on_a_miss_and_none_when_warm(world: SimpleNamespace) -> None:
    publish_version(world.mine, "1.6.0-rc.1")
    texts = [
        None,
        "latest",
        "latest_builtin",
        "latest_custom",
        "1.x.x",
        "1.1.x",
        "1.6.0-rc.1",
        "2.x.x",
    ]
    wanted = [(c, parse_pin(t)) for c in (world.crm, world.hr) for t in texts]
    with CaptureQueriesContext(connection) as cold:
        got = resolve_many(world.mine, wanted)
    assert len(cold.captured_queries) == 1
    with CaptureQueriesContext(connection) as warm:
        again = resolve_many(world.mine, wanted)
    assert len(warm.captured_queries) == 0
    assert again == got
    for connector_id, pin in wanted:
        expected = resolve_uncached(world.mine, connector_id, pin)
        assert got[(connector_id, pin.text)] == expected, (connector_id, pin.text)
    assert seen(got[(world.crm, "1.6.0-rc.1")]) == ("1.6.0-rc.1", world.mine.slug)
    assert seen(got[(world.crm, "1.1.x")]) == ("1.1.0", "platform")
    assert got[(world.crm, "1.x.x")] == Resolved(
        world.custom.pk, "1.5.0", False, world.mine.slug, bytes(world.custom.version_key)
    )


# --- Which versions a pin accepts --------------------------------------------------------------


def test_pin_accepts_no_other_projects_version(world: SimpleNamespace) -> None:
    assert all(
        not pin_accepts(parse_pin(text), world.custom, world.bare)
        for text in (None, "latest", "latest_custom", "1.x.x", "1.5.x", "1.5.0")
    )
    assert all(
        pin_accepts(parse_pin(text), world.custom, world.mine)
        for text in (None, "latest", "latest_custom", "1.x.x", "1.5.x", "1.5.0")
    )
    assert not pin_accepts(parse_pin("latest_builtin"), world.custom, world.mine)


# --- Entries live a day ------------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The local-memory cache's clock, moved by hand."""
    now = [1_000_000.0]
    fake = SimpleNamespace(time=lambda: now[0])
    monkeypatch.setattr(cache_base, "time", fake)
    monkeypatch.setattr(locmem, "time", fake)
    return now


@pytest.mark.parametrize("bulk", [False, True], ids=["resolve", "resolve_many"])
def test_cached_resolutions_expire_after_a_day(
    world: SimpleNamespace, clock: list[float], bulk: bool
) -> None:
    pin = parse_pin("1.x.x")

    def read() -> tuple[int, Any]:
        with CaptureQueriesContext(connection) as ctx:
            if bulk:
                value = resolve_many(world.mine, [(world.crm, pin)])[(world.crm, pin.text)]
            else:
                value = resolve(world.mine, world.crm, pin)
        return len(ctx.captured_queries), seen(value)

    start = clock[0]
    assert read()[0] > 0
    clock[0] = start + CACHE_TIMEOUT - 1
    assert read() == (0, ("1.5.0", world.mine.slug))
    clock[0] = start + CACHE_TIMEOUT + 1
    queries, value = read()
    assert queries > 0 and value == ("1.5.0", world.mine.slug)
    assert CACHE_TIMEOUT == 24 * 3600


# --- Messages -----------------------------------------------------------------------------------


def test_describe_lists_the_versions() -> None:
    assert describe(["2.0.0", "1.5.0", "1.0.0"]) == "2.0.0, 1.5.0, 1.0.0"
    assert describe([]) == "none"


def test_published_numbers_are_the_thirty_highest(world: SimpleNamespace) -> None:
    project: Project = world.bare
    for patch in range(31):
        publish_version(project, f"3.0.{patch}")
    numbers = published_numbers(project, world.crm)
    assert numbers == [f"3.0.{patch}" for patch in range(30, 0, -1)]
