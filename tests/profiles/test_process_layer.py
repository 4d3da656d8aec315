"""The per-process layer in front of the shared cache (core.freshness): within a request a
warm resolution touches neither the cache nor the database; another process's bump (the
epoch in the shared store) empties it at the next request; a process that bumps stops using
it for the rest of its request; outside a request it is never used."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from connectors.cache import generation_key
from core import freshness
from profiles.pins import parse_pin
from profiles.resolution import resolve
from tests.factories import make_project, publish_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def request_scope() -> Iterator[None]:
    freshness.request_began()
    yield
    freshness.request_ended()


def next_request() -> None:
    freshness.request_ended()
    freshness.request_began()


class CountingCache:
    """Records the keys read from the shared cache (the configured cache's get / get_many)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.keys: list[str] = []
        original_get = cache.get

        def get(key: str, *args: Any, **kwargs: Any) -> Any:
            self.keys.append(key)
            return original_get(key, *args, **kwargs)

        def get_many(keys: Any, *args: Any, **kwargs: Any) -> Any:
            self.keys.extend(keys)
            return {k: v for k in keys if (v := original_get(k)) is not None}

        monkeypatch.setattr(cache, "get", get)
        monkeypatch.setattr(cache, "get_many", get_many)


def another_process_bumps(connector_id: int) -> None:
    """What a second process's publish leaves in the shared store (no signal reaches us)."""
    cache.incr(generation_key(connector_id))
    cache.incr(freshness.EPOCH_KEY)


def test_warm_resolution_in_a_request_reads_nothing(
    request_scope: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project()
    connector = publish_version(None, "1.0.0").connector_id
    pin = parse_pin("latest")
    next_request()  # the publish's request bypassed the layer; this one fills it
    assert resolve(project, connector, pin).version == "1.0.0"  # type: ignore[union-attr]
    next_request()
    counting = CountingCache(monkeypatch)
    with CaptureQueriesContext(connection) as queries:
        for _ in range(50):
            assert resolve(project, connector, pin).version == "1.0.0"  # type: ignore[union-attr]
    assert counting.keys == [freshness.EPOCH_KEY]  # one read for the request, nothing per call
    assert len(queries) == 0


def test_a_publish_is_seen_at_the_next_request(request_scope: None) -> None:
    project = make_project()
    connector = publish_version(None, "1.0.0").connector_id
    pin = parse_pin("latest")
    next_request()
    assert resolve(project, connector, pin).version == "1.0.0"  # type: ignore[union-attr]
    next_request()
    assert resolve(project, connector, pin).version == "1.0.0"  # type: ignore[union-attr]
    publish_version(None, "1.1.0")
    next_request()
    assert resolve(project, connector, pin).version == "1.1.0"  # type: ignore[union-attr]


def test_stale_process_entries_die_with_the_epoch(request_scope: None) -> None:
    project = make_project()
    connector = publish_version(None, "1.0.0").connector_id
    pin = parse_pin("latest")
    resolve(project, connector, pin)
    next_request()
    freshness.local_set(f"resolution:{connector}:{project.pk}:latest", "stale")
    assert resolve(project, connector, pin) == "stale"  # the layer answers within the epoch
    another_process_bumps(connector)
    assert resolve(project, connector, pin) == "stale"  # same request: same epoch
    next_request()
    assert resolve(project, connector, pin).version == "1.0.0"  # type: ignore[union-attr]


def test_a_process_that_bumps_bypasses_the_layer_until_its_next_request(
    request_scope: None,
) -> None:
    project = make_project()
    connector = publish_version(None, "1.0.0").connector_id
    pin = parse_pin("latest")
    resolve(project, connector, pin)
    publish_version(None, "1.1.0")  # bumps: this request no longer trusts its layer
    assert freshness.local_get(f"resolution:{connector}:{project.pk}:latest") is freshness.MISS
    assert resolve(project, connector, pin).version == "1.1.0"  # type: ignore[union-attr]


def test_outside_a_request_the_layer_is_not_used() -> None:
    project = make_project()
    connector = publish_version(None, "1.0.0").connector_id
    pin = parse_pin("latest")
    resolve(project, connector, pin)
    freshness.local_set("anything", 1)
    assert freshness.local_get("anything") is freshness.MISS
