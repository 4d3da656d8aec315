"""Benchmark of staged rollouts on PostgreSQL, measured in one run (never fails on speed).

Seeds a dedicated, committed database (DATABASE_URL's; dropped and re-created at the start,
dropped at the end): one project, a connector with two versions, two profiles (one without a
rollout, one with a running rollout at 25 %), 1,000 connections on each. Then measures:

1. a connection's serving version (``profiles.serving.serving_version``), with and without a
   rollout: queries and median time cold (empty caches), and warm (this request's
   per-process layer), warm as a ratio to today's path (no rollout);
2. the gate of the rollout's current step (``rollouts.gate.gate_of``) with N = 10k, 100k and 1M
   request-log rows in the step's window (inserted with the tallies the runtime writes beside
   each row), beside what counting the same window in the request log would cost (a
   ``COUNT`` grouped by version over the rows of the profile's connections since the step
   began: what the tallies save).

Local-memory cache (one process); the cross-process path is tested, not timed, here.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, override_settings  # noqa: E402

from bench.resolution import recreate_database, refuse  # noqa: E402

CONNECTIONS = 1_000
SIZES = (10_000, 100_000, 1_000_000)
SAMPLE = 500
LOCMEM = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "bench-rollouts",
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    }
}


def median_us(fn: Callable[[], Any], repeat: int = SAMPLE) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1000


def seed() -> dict[str, Any]:
    from connections.models import Connection
    from profiles.models import ConnectorProfile
    from projects.services import Actor
    from rollouts.services import staged
    from tests.factories import make_project, pin_profile, publish_version

    project = make_project()
    publish_version(project, "1.2.0")
    publish_version(project, "1.3.0")
    plain = pin_profile(project, "plain", "1.2.0")
    staged_profile = pin_profile(project, "staged", "1.2.0")
    for profile in (plain, staged_profile):
        Connection.objects.bulk_create(
            Connection(
                project=project,
                profile=profile,
                connector_id=profile.connector_id,
                origin_owner_id=f"{profile.name}-{i}",
                name=f"{profile.name} {i}",
            )
            for i in range(CONNECTIONS)
        )
    from connections import counters

    counters.recount()
    rollout = staged.rollout_start(
        actor=Actor.system(),
        profile=staged_profile,
        to_version="1.3.0",
        keep_pin=False,
        target_pin="1.x.x",
        knobs=staged.Settings(steps=[25, 50, 100]),
    )
    return {
        "project": project,
        "plain": ConnectorProfile.objects.select_related("project").get(pk=plain.pk),
        "staged": ConnectorProfile.objects.select_related("project").get(pk=staged_profile.pk),
        "rollout": rollout,
    }


def serving_figures(world: dict[str, Any]) -> None:
    from connections.models import Connection
    from core import freshness
    from profiles.serving import serving_version

    print("1. A connection's serving version (profiles.serving.serving_version)")
    results = {}
    for label in ("plain", "staged"):
        profile = world[label]
        ids = list(
            Connection.objects.filter(profile=profile).values_list("public_id", flat=True)[:SAMPLE]
        )
        cold_times, cold_queries = [], []
        for cid in ids:
            from django.core.cache import cache

            cache.clear()
            freshness.local_clear()
            freshness.request_began()
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter_ns()
                serving_version(profile, cid)
                cold_times.append(time.perf_counter_ns() - start)
            cold_queries.append(len(queries))
            freshness.request_ended()
        freshness.request_began()
        serving_version(profile, ids[0])  # warm this request's layer
        second = ids[1]

        def warm_call(p: Any = profile, c: Any = second) -> Any:
            return serving_version(p, c)

        with CaptureQueriesContext(connection) as queries:
            warm = median_us(warm_call, 20_000)
        freshness.request_ended()
        results[label] = warm
        name = "with a rollout at 25 %" if label == "staged" else "without a rollout (today)"
        print(
            f"   {name:28} cold: {max(cold_queries)} queries, median "
            f"{statistics.median(cold_times) / 1000:7.1f} µs   warm: {len(queries)} queries, "
            f"median {warm:6.2f} µs"
        )
    print(f"   warm with ÷ without a rollout: {results['staged'] / results['plain']:.2f}×")


def gate_figures(world: dict[str, Any]) -> None:
    from django.db.models import Count, Q

    from connections.models import Connection
    from profiles.models import ServingTally
    from rollouts import gate as gates
    from rollouts.models import Rollout
    from runtime.models import RequestLog

    rollout = Rollout.objects.select_related("to_version").get(pk=world["rollout"].pk)
    ids = list(
        Connection.objects.filter(profile=world["staged"])
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    print("2. The gate of the current step (rollouts.gate.gate_of) vs counting the request log")
    inserted = 0
    for size in SIZES:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO runtime_requestlog (request_id, connection_id, action_id, "
                "version_id, version_number, builtin, status, http_status, duration_ms, "
                "error_code, created_at) "
                "SELECT gen_random_uuid(), (%s::bigint[])[1 + i %% %s], 'list_people', "
                "CASE WHEN i %% 4 = 0 THEN %s ELSE %s END, '', false, "
                "CASE WHEN i %% 50 = 0 THEN 'error' ELSE 'ok' END, "
                "CASE WHEN i %% 50 = 0 THEN 502 ELSE 200 END, 12, "
                "CASE WHEN i %% 50 = 0 THEN 'provider_error' ELSE '' END, "
                "now() - (i %% 3600) * interval '1 second' / 10 "
                "FROM generate_series(%s::bigint, %s::bigint) AS i",
                [ids, len(ids), rollout.to_version_id, rollout.from_version_id, inserted + 1, size],
            )
            cursor.execute("ANALYZE runtime_requestlog")
        # The tallies the runtime writes beside each of those rows (one upsert per request).
        rows = RequestLog.objects.filter(
            version_id__in=[rollout.from_version_id, rollout.to_version_id]
        )
        counted = rows.values("version_id").annotate(
            n=Count("id"), e=Count("id", filter=Q(status="error"))
        )
        for row in counted:
            ServingTally.objects.update_or_create(
                rollout_key=rollout.public_id,
                gate_window=rollout.window,
                version_pk=row["version_id"],
                defaults={"profile": world["staged"], "requests": row["n"], "errors": row["e"]},
            )
        inserted = size
        gate = gates.gate_of(rollout)
        with CaptureQueriesContext(connection) as queries:
            gates.gate_of(rollout)
        tallied = median_us(lambda: gates.gate_of(rollout), 300)

        def scan() -> Any:
            return list(
                RequestLog.objects.filter(
                    connection__profile_id=world["staged"].pk,
                    created_at__gte=rollout.step_started_at.replace(year=2000),
                )
                .values("version_id")
                .annotate(n=Count("id"), e=Count("id", filter=Q(status="error")))
            )

        scanned = median_us(scan, 3 if size >= 1_000_000 else 10)
        print(
            f"   N = {size:>9,}: gate {len(queries)} query, median {tallied / 1000:6.2f} ms "
            f"({gate.candidate.requests:,} candidate requests, verdict {gate.verdict.value});  "
            f"counting the log: {scanned / 1000:8.1f} ms"
        )


def main() -> None:
    if connection.vendor != "postgresql":
        refuse("needs PostgreSQL: DATABASE_URL=postgres://.../ch_rollouts_bench")
    name = settings.DATABASES["default"]["NAME"]
    recreate_database(name, create=True)
    connection.close()
    try:
        with override_settings(CACHES=LOCMEM):
            call_command("migrate", verbosity=0)
            world = seed()
            serving_figures(world)
            gate_figures(world)
    finally:
        connection.close()
        recreate_database(name, create=False)


if __name__ == "__main__":
    main()
