"""Benchmark of version resolution on PostgreSQL, measured in one run (never fails on speed).

Seeds a dedicated, committed database (DATABASE_URL's; dropped and re-created at the start,
dropped at the end) with 200 connectors × 500 versions and 5,000 profiles, then measures:

1. ``resolve_uncached``: queries per resolution and median time, as a ratio to ``SELECT 1``;
2. ``resolve`` with a warm cache (Redis and local memory), as a ratio to a dict lookup;
3. publish → visible: a second process loops on the cached ``resolve()`` of a profile pinned to
   "latest" while this one publishes higher custom versions with ``connector_version_push``;
   the delay from the publish's commit to the other process seeing the new version.

The second process is this script run with ``--watch``; both use the same Redis cache
(BENCH_REDIS_URL, db 15 by default, under a key prefix unique to the run, deleted at the end).
"""

from __future__ import annotations

import json
import os
import queue
import random
import statistics
import subprocess
import sys
import threading
import time
import timeit
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
import redis  # noqa: E402
import yaml  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext, override_settings  # noqa: E402
from psycopg import sql  # noqa: E402

CONNECTORS = 200
VERSIONS = 500
PROFILES = 5_000
SAMPLE = 2_000
BATCH = 5_000
PUBLISHES = 5
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
PREFIX = f"bench-resolution-{uuid.uuid4().hex[:12]}"
REDIS_CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": PREFIX,
    }
}
LOCMEM_CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": PREFIX,
        "OPTIONS": {"MAX_ENTRIES": 100_000},  # the default (300) would evict the sample
    }
}
WATCHED = "watched"  # the profile the second process resolves


def clock_ns() -> int:
    """System-wide monotonic clock: comparable between the two processes."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def stamp(into: list[int]) -> None:
    into.append(clock_ns())


def definition_yaml(key: str, version: str) -> bytes:
    """A small valid definition (docs/connector-definition.md)."""
    document = {
        "info": {"title": "Bench connector", "key": key, "version": version},
        "baseUrl": "https://api.example.com",
        "authentication": {
            "type": "api_key",
            "configFields": [
                {"key": "api_key", "label": "API key", "type": "password", "required": True}
            ],
        },
        "actions": [
            {
                "actionId": "list_contacts",
                "categories": ["crm"],
                "actionType": "list",
                "label": "List contacts",
                "description": "All contacts.",
            }
        ],
    }
    return yaml.safe_dump(document, sort_keys=False).encode()


# --- Database ---------------------------------------------------------------------------------


def _admin_connection() -> psycopg.Connection[Any]:
    db = settings.DATABASES["default"]
    return psycopg.connect(
        host=db.get("HOST") or None,
        port=str(db.get("PORT") or "") or None,
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    )


def recreate_database(name: str, *, create: bool) -> None:
    with _admin_connection() as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        if create:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def refuse(message: str) -> None:
    print(f"bench/resolution.py: {message}", file=sys.stderr)
    sys.exit(2)


# --- Seed -------------------------------------------------------------------------------------


@dataclass
class Dataset:
    projects: dict[int, Any]  # pk → Project
    profiles: list[tuple[int, int, str | None]]  # (project_id, connector_id, pin)
    watched_project: Any
    watched_connector: Any
    seconds: float


def _version_number(i: int) -> str:
    number = f"{1 + i // 100}.{(i // 10) % 10}.{i % 10}"
    return f"{number}-rc.1" if i % 50 == 49 else number  # 2 % pre-releases


def seed(rng: random.Random) -> Dataset:
    from django.utils import timezone

    from connectors.definition import parse_definition
    from connectors.models import ChangeLevel, Connector, ConnectorVersion
    from profiles.models import ConnectorProfile
    from projects.services import Actor, organization_create, project_create

    start = time.perf_counter()
    actor = Actor.system()
    organization = organization_create(actor=actor, slug="bench", name="Bench")
    projects = [
        project_create(actor=actor, organization=organization, slug=f"bench-{s}", name=s.title())
        for s in ("prod", "staging", "dev")
    ]
    connectors = Connector.objects.bulk_create(
        Connector(key=f"bench_{c:03d}", title=f"Bench {c:03d}") for c in range(CONNECTORS)
    )
    tiny = {"bench": True}
    now = timezone.now()

    def owner(c: int, i: int) -> Any:
        if c % 5 == 0:  # built-in only
            return None
        slot = i % 4  # half built-in, half custom in two of the three projects
        return None if slot < 2 else projects[(c + slot) % 3]

    def rows() -> Iterator[ConnectorVersion]:
        for c, connector in enumerate(connectors):
            for i in range(VERSIONS):
                draft = i % 97 == 0 or (i == VERSIONS - 1 and c % 2 == 0)
                version = ConnectorVersion(
                    connector=connector,
                    project=owner(c, i),
                    definition=tiny,
                    change_level=ChangeLevel.INITIAL if i == 0 else ChangeLevel.PATCH,
                    published_at=None if draft else now,
                )
                version.set_version(_version_number(i))
                yield version

    batch: list[ConnectorVersion] = []
    for version in rows():
        batch.append(version)
        if len(batch) == BATCH:
            ConnectorVersion.objects.bulk_create(batch)
            batch = []
    if batch:
        ConnectorVersion.objects.bulk_create(batch)

    # The watched connector gets real definitions, so a push compares like with like.
    watched_connector = connectors[1]
    watched_project = projects[(1 + 2) % 3]  # owns custom versions of connector 1 (slot 2)
    parsed = parse_definition([("c.yaml", definition_yaml(watched_connector.key, "1.0.0"))])
    ConnectorVersion.objects.filter(connector=watched_connector).update(
        definition=parsed.definition
    )

    def pin_for(k: int) -> str | None:
        kind = k % 10
        major, minor, patch = rng.randint(1, 5), rng.randint(0, 9), rng.randint(0, 9)
        if kind in (0, 1):
            return None
        if kind == 2:
            return "latest"
        if kind == 3:
            return "latest_builtin"
        if kind == 4:
            return "latest_custom"
        if kind in (5, 6):
            return f"{major if k % 50 else 9}.x.x"  # 9.x.x matches nothing
        if kind == 7:
            return f"{major}.{minor}.x"
        return _version_number(rng.randrange(VERSIONS)) if kind == 8 else f"{major}.{minor}.{patch}"

    profiles = [
        ConnectorProfile(
            project=watched_project, connector=watched_connector, name=WATCHED, pin="latest"
        )
    ]
    for k in range(1, PROFILES):
        profiles.append(
            ConnectorProfile(
                project=projects[rng.randrange(3)],
                connector=connectors[k % CONNECTORS],
                name=f"profile-{k}",
                pin=pin_for(k),
            )
        )
    ConnectorProfile.objects.bulk_create(profiles, batch_size=BATCH)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return Dataset(
        projects={p.pk: p for p in projects},
        profiles=[(p.project_id, p.connector_id, p.pin) for p in profiles],
        watched_project=watched_project,
        watched_connector=watched_connector,
        seconds=time.perf_counter() - start,
    )


# --- Measurements -----------------------------------------------------------------------------


def median_us(seconds: Sequence[float]) -> float:
    return statistics.median(seconds) * 1e6


def p95_us(seconds: Sequence[float]) -> float:
    return statistics.quantiles(seconds, n=20)[-1] * 1e6


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def select_one() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


@dataclass
class Row:
    label: str
    median: str
    p95: str = ""
    ratio: str = ""
    queries: str = ""


def measure_uncached(sample: list[tuple[Any, int, Any]]) -> list[Row]:
    from profiles.resolution import resolve_uncached

    counts = []
    for project, connector_id, pin in sample:  # also the warm-up pass
        with CaptureQueriesContext(connection) as ctx:
            resolve_uncached(project, connector_id, pin)
        counts.append(len(ctx.captured_queries))
    unit, uncached = [], []
    for project, connector_id, pin in sample:  # interleaved: same conditions for both
        unit.append(timed(select_one))
        uncached.append(timed(partial(resolve_uncached, project, connector_id, pin)))
    base = statistics.median(unit)
    return [
        Row("SELECT 1 round trip (unit)", f"{median_us(unit):.1f}", f"{p95_us(unit):.1f}", "1.00"),
        Row(
            "resolve_uncached (no cache)",
            f"{median_us(uncached):.1f}",
            f"{p95_us(uncached):.1f}",
            f"{statistics.median(uncached) / base:.2f} × SELECT 1",
            f"max {max(counts)}, mean {statistics.fmean(counts):.2f} (promise ≤ 2)",
        ),
    ]


def dict_lookup_seconds(sample: list[tuple[Any, int, Any]]) -> float:
    table = {
        f"resolution:{connector_id}:0:{project.pk}:{pin.text or ''}": (connector_id, pin.text)
        for project, connector_id, pin in sample
    }
    key = list(table)[len(table) // 2]
    number = 1_000_000
    runs = timeit.repeat("table[key]", globals={"table": table, "key": key}, number=number)
    return statistics.median(runs) / number


def measure_cached(sample: list[tuple[Any, int, Any]]) -> list[Row]:
    from core import freshness
    from profiles.resolution import resolve

    unit = dict_lookup_seconds(sample)
    rows = [Row("dict lookup, comparable key (unit)", f"{unit * 1e6:.3f}", "", "1")]
    for label, caches in (("Redis", REDIS_CACHES), ("local memory", LOCMEM_CACHES)):
        with override_settings(CACHES=caches):
            for project, connector_id, pin in sample:  # warm-up: fills the cache
                resolve(project, connector_id, pin)
            with CaptureQueriesContext(connection) as ctx:
                times = [
                    timed(partial(resolve, project, connector_id, pin))
                    for project, connector_id, pin in sample
                ]
            rows.append(
                Row(
                    f"resolve, warm cache: {label}",
                    f"{median_us(times):.1f}",
                    f"{p95_us(times):.1f}",
                    f"{statistics.median(times) / unit:,.0f} × dict",
                    f"{len(ctx.captured_queries)} in {len(sample):,}",
                )
            )
    # Inside a request (what an app server does): the per-process layer in front of Redis,
    # valid for the epoch the request read once (core.freshness).
    with override_settings(CACHES=REDIS_CACHES):
        freshness.local_clear()
        freshness.request_began()
        try:
            for project, connector_id, pin in sample:  # warm-up: fills Redis and the layer
                resolve(project, connector_id, pin)
            freshness.request_ended()
            freshness.request_began()  # a new request: one epoch read, then dict lookups
            with CaptureQueriesContext(connection) as ctx:
                times = [
                    timed(partial(resolve, project, connector_id, pin))
                    for project, connector_id, pin in sample
                ]
        finally:
            freshness.request_ended()
        rows.append(
            Row(
                "resolve, warm: process layer over Redis",
                f"{median_us(times):.2f}",
                f"{p95_us(times):.2f}",
                f"{statistics.median(times) / unit:,.0f} × dict",
                f"{len(ctx.captured_queries)} in {len(sample):,}",
            )
        )

        def epoch_check() -> None:
            freshness.request_began()
            freshness.local_get("bench")
            freshness.request_ended()

        checks = [timed(epoch_check) for _ in range(500)]
        rows.append(
            Row(
                "per-request epoch check (1 Redis GET)",
                f"{median_us(checks):.1f}",
                f"{p95_us(checks):.1f}",
                f"{statistics.median(checks) / unit:,.0f} × dict",
                "once per request",
            )
        )
    return rows


@contextmanager
def watcher(project_id: int, connector_id: int) -> Iterator[queue.Queue[tuple[str, int]]]:
    """The second process; yields a queue of (version it now resolves, clock_ns)."""
    env = dict(os.environ, BENCH_CACHES=json.dumps(REDIS_CACHES))
    command = [sys.executable, str(Path(__file__).resolve()), "--watch"]
    process = subprocess.Popen(  # noqa: S603 - our own script, fixed arguments
        [*command, str(project_id), str(connector_id)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    reports: queue.Queue[tuple[str, int]] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            version, _, stamp = line.strip().partition(" ")
            reports.put((version, int(stamp)))

    threading.Thread(target=read, daemon=True).start()
    try:
        yield reports
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(reports: queue.Queue[tuple[str, int]], version: str, timeout: float = 30) -> int:
    """When the second process first resolved ``version`` (clock_ns); fails after ``timeout``."""
    deadline, last = time.monotonic() + timeout, "nothing"
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            seen, stamp = reports.get(timeout=remaining)
        except queue.Empty:
            break
        if seen == version:
            return stamp
        last = seen
    raise RuntimeError(
        f"the second process did not resolve {version} within {timeout:.0f} s "
        f"(last reported: {last})"
    )


def measure_publish(data: Dataset) -> list[Row]:
    from profiles.pins import parse_pin
    from profiles.resolution import resolve
    from profiles.services import connector_version_push
    from projects.services import Actor

    project, connector = data.watched_project, data.watched_connector
    delays, pushes = [], []
    with override_settings(CACHES=REDIS_CACHES), watcher(project.pk, connector.pk) as reports:
        current = resolve(project, connector.pk, parse_pin("latest"))
        assert current is not None
        wait_for(reports, current.version, timeout=60)  # the process is up and resolving
        for n in range(PUBLISHES):
            version = f"6.0.{n}"
            files = [("c.yaml", definition_yaml(connector.key, version))]
            committed: list[int] = []
            start = time.perf_counter()
            # The outer block only lets us stamp the commit: our hook runs first after COMMIT.
            with transaction.atomic():
                transaction.on_commit(partial(stamp, committed))
                connector_version_push(actor=Actor.system(), project=project, files=files)
            pushes.append(time.perf_counter() - start)
            delays.append((wait_for(reports, version) - committed[0]) / 1e6)
            time.sleep(0.2)
    spread = f"min {min(delays):.2f}, max {max(delays):.2f}"
    return [
        Row(
            "publish (connector_version_push), ms",
            f"{statistics.median(pushes) * 1000:.2f}",
            "",
            "",
            f"median of {PUBLISHES}",
        ),
        Row(
            "commit → visible in another process, ms",
            f"{statistics.median(delays):.2f}",
            "",
            spread,
            f"median of {PUBLISHES}, Redis",
        ),
    ]


def print_table(title: str, sections: list[tuple[str, list[Row]]]) -> None:
    print(title)
    header = f"{'measure':<42} {'median µs':>10} {'p95 µs':>9}  {'ratio':<22} queries"
    print(header)
    print("-" * (len(header) + 24))
    for name, rows in sections:
        print(f"[{name}]")
        for r in rows:
            print(f"  {r.label:<40} {r.median:>10} {r.p95:>9}  {r.ratio:<22} {r.queries}")


# --- Entry points -----------------------------------------------------------------------------


def watch(project_id: int, connector_id: int) -> None:
    """The second process: resolve the watched profile in a loop, one request each, report
    every change."""
    from core import freshness
    from profiles.models import ConnectorProfile
    from profiles.pins import parse_pin
    from profiles.resolution import resolve

    override_settings(CACHES=json.loads(os.environ["BENCH_CACHES"])).enable()
    profile = ConnectorProfile.objects.select_related("project").get(
        project_id=project_id, connector_id=connector_id, name=WATCHED
    )
    pin, project, parent = parse_pin(profile.pin), profile.project, os.getppid()
    seen: str | None = None
    deadline = time.monotonic() + 600
    loops = 0
    while True:
        freshness.request_began()  # as an app server's request: the per-process layer in use
        resolved = resolve(project, connector_id, pin)
        freshness.request_ended()
        version = resolved.version if resolved is not None else "-"
        if version != seen:
            print(f"{version} {clock_ns()}", flush=True)
            seen = version
        loops += 1
        if loops % 1000 == 0 and (os.getppid() != parent or time.monotonic() > deadline):
            return


def main() -> None:
    db = settings.DATABASES["default"]
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        refuse(
            "needs PostgreSQL: set DATABASE_URL to a postgres:// URL of a throw-away database, "
            "e.g. postgres://postgres@127.0.0.1:5432/connector_hub_bench (`make bench` does)."
        )
    name = str(db["NAME"])
    if "bench" not in name:
        refuse(f"the database “{name}” is dropped and re-created; its name must contain “bench”.")
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as exc:
        refuse(f"Redis is not reachable at {REDIS_URL} ({exc}); set BENCH_REDIS_URL.")

    from profiles.pins import parse_pin

    recreate_database(name, create=True)
    try:
        call_command("migrate", verbosity=0, interactive=False)
        rng = random.Random(20240501)
        data = seed(rng)
        picked = rng.sample(data.profiles, SAMPLE)
        sample = [(data.projects[p], c, parse_pin(pin)) for p, c, pin in picked]
        sections = [
            ("1. resolution without cache", measure_uncached(sample)),
            ("2. resolution with a warm cache", measure_cached(sample)),
            ("3. publish → visible in another process", measure_publish(data)),
        ]
        title = (
            f"Resolution benchmark on {connection.vendor} ({CONNECTORS} connectors × "
            f"{VERSIONS} versions, {PROFILES:,} profiles)"
        )
        print_table(title, sections)
        print(
            f"seeded {CONNECTORS * VERSIONS:,} versions and {PROFILES:,} profiles in "
            f"{data.seconds:.1f} s; sample of {SAMPLE:,} profiles; dict lookup timed with timeit"
        )
    finally:
        connections.close_all()
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{PREFIX}:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        recreate_database(name, create=False)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--watch":
        watch(int(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
