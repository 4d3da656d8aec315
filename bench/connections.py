"""Benchmark of the connections pages at a million rows (PostgreSQL), measured in one run.

Seeds a dedicated database (DATABASE_URL's; its name must contain "bench") with
``seed_bench`` (BENCH_CONNECTIONS rows, 1,000,000 by default), then measures the median server
time of each page over BENCH_REPEAT requests through django.test.Client (DEBUG off, the bench
URLs with the bare view) and prints it as a ratio to the bare view, with its query count.
Goals: the owner's list at most 3×, a member's at most 4.5× (and 1.5× the owner's), the other
dashboard pages 5×. For a page over its goal, its slowest queries are run again under EXPLAIN
ANALYZE and the plans printed.

BENCH_REUSE=1 keeps the database at the end and reuses it next time (seeding only what is
missing), so re-runs take seconds; without it the database is re-created and dropped.
Never fails on speed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
# A fixed key for this throw-away database, so that a reused database still decrypts (the
# test settings would generate a new key in every process).
os.environ.setdefault(
    "FIELD_ENCRYPTION_KEYS",
    base64.urlsafe_b64encode(hashlib.sha256(b"connector-hub-bench-only").digest()).decode(),
)

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test.utils import (  # noqa: E402
    CaptureQueriesContext,
    override_settings,
    setup_test_environment,
)
from psycopg import sql  # noqa: E402

SIZE = int(os.environ.get("BENCH_CONNECTIONS", "1000000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "30"))
REUSE = os.environ.get("BENCH_REUSE", "") == "1"
PROJECT = "bench-prod"
PER_PAGE = 50
DEEP_PAGE = 1_000
GOAL = 5.0  # a dashboard page's, unless GOALS names its own
GOALS = {"list": 3.0, "member": 4.5}  # the owner's list pages, a member's list (issue 20)
MEMBER_OVER_OWNER = 1.5
API_KEY_NAME = "bench-connections"
# The plan lines worth reading: scans and their filters, sorts, and the total.
PLAN_SUMMARY = re.compile(
    r"Scan|Sort|Filter|Rows Removed|Heap Blocks|BitmapOr|BitmapAnd|Execution Time"
)
PLAN_NOISE = re.compile(r"_pkey on (profiles|connectors|auth|projects)_")  # joined lookups


def refuse(message: str) -> None:
    print(f"bench/connections.py: {message}", file=sys.stderr)
    sys.exit(2)


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


def database_exists(name: str) -> bool:
    with _admin_connection() as admin:
        return (
            admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            is not None
        )


def recreate_database(name: str, *, create: bool) -> None:
    with _admin_connection() as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        if create:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


# --- Measuring ----------------------------------------------------------------------------


@dataclass
class Result:
    label: str
    url: str
    seconds: float
    queries: list[dict[str, str]]
    ratio: float = 0.0
    dashboard: bool = True

    @property
    def goal(self) -> float:
        if "member" in self.label:
            return GOALS["member"]
        if self.label.startswith("list,") and "search" not in self.label:
            return GOALS["list"]
        return GOAL


Page = tuple[str, Any, str, dict[str, str], bool]  # label, client, url, headers, dashboard?


def measure(pages: list[Page]) -> list[Result]:
    """Median time of each page over REPEAT rounds; each round requests every page once, so a
    burst of load on the (shared) machine hits all pages alike, the bare view included."""
    for label, client, url, headers, _dashboard in pages:  # warm up, and check they work
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (label, url, response.status_code)
    times: list[list[float]] = [[] for _ in pages]
    for _ in range(REPEAT):
        for i, (_label, client, url, headers, _dashboard) in enumerate(pages):
            start = time.perf_counter()
            response = client.get(url, headers=headers)
            times[i].append(time.perf_counter() - start)
            assert response.status_code == 200, (url, response.status_code)
    results = []
    for i, (label, client, url, headers, dashboard) in enumerate(pages):
        captures = []
        for _ in range(3):  # the queries of the run whose SQL time is the median of three
            with CaptureQueriesContext(connection) as ctx:
                client.get(url, headers=headers)
            captures.append(ctx.captured_queries)
        captures.sort(key=lambda queries: sum(float(q["time"]) for q in queries))
        results.append(
            Result(label, url, statistics.median(times[i]), captures[1], dashboard=dashboard)
        )
    return results


def explain(query: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {query}")
        return [row[0] for row in cursor.fetchall()]


def slowest(result: Result, n: int = 2) -> list[dict[str, str]]:
    return sorted(result.queries, key=lambda q: float(q["time"]), reverse=True)[:n]


def print_table(results: list[Result]) -> None:
    print(f"{'page':<48} {'ms':>8} {'× bare':>7} {'queries':>8} {'SQL ms':>7} {'slowest':>8}")
    print("-" * 92)
    for r in results:
        top = slowest(r, 1)
        top_ms = f"{float(top[0]['time']) * 1000:.0f}" if top else "-"
        sql_ms = sum(float(q["time"]) for q in r.queries) * 1000
        flag = f"  over goal ({r.goal:g}×)" if r.dashboard and r.ratio > r.goal else ""
        print(
            f"{r.label:<48} {r.seconds * 1000:8.1f} {r.ratio:7.2f} {len(r.queries):8d} "
            f"{sql_ms:7.0f} {top_ms:>8}{flag}"
        )
    print(
        "SQL ms: the page's queries in one request as the database driver timed them (1 ms "
        "resolution); the rest is Python (view, templates)."
    )


# --- Setup ---------------------------------------------------------------------------------


def prepare() -> dict[str, Any]:
    """Users, an API key and the URLs to measure (cursor and ids computed from the data)."""
    from django.contrib.auth.models import User

    from connections.models import Connection, Status
    from core.pager import KeysetOrder, encode_cursor
    from projects.models import ApiKey, Project
    from projects.services import Actor, api_key_create

    project = Project.objects.get(slug=PROJECT)
    ApiKey.objects.filter(project=project, name=API_KEY_NAME).delete()  # an earlier run's
    _key, raw_key = api_key_create(actor=Actor.system(), project=project, name=API_KEY_NAME)
    admin_user, _created = User.objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    rows = Connection.objects.filter(project=project).order_by("-created_at", "-id")
    # Page 1,000, or the last full page of a smaller seed (BENCH_CONNECTIONS).
    deep_page = max(2, min(DEEP_PAGE, SIZE // PER_PAGE))
    before_deep = rows.only("id", "created_at")[(deep_page - 1) * PER_PAGE - 1]
    middle = rows.only("id", "public_id")[SIZE // 2]
    # A name fragment shared by ~1 in 40 rows, and one owner id (rare: one row).
    rare = rows.only("origin_owner_id")[SIZE // 3].origin_owner_id
    errors = Connection.objects.filter(project=project, status=Status.ERROR).count()
    base = f"/p/{project.slug}/connections/"
    return {
        "project": project,
        "raw_key": raw_key,
        "admin": admin_user,
        "deep_page": deep_page,
        "deep_after": encode_cursor(before_deep, KeysetOrder("created_at")),
        "detail_id": middle.public_id,
        "rare_owner": rare,
        "errors": errors,
        "base": base,
    }


def main() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        refuse(
            "needs PostgreSQL: set DATABASE_URL to a postgres:// URL of a throw-away database, "
            "e.g. postgres://postgres@127.0.0.1:5432/connector_hub_bench_connections "
            "(`make bench` does)."
        )
    name = str(settings.DATABASES["default"]["NAME"])
    if "bench" not in name:
        refuse(f"the database “{name}” is dropped and re-created; its name must contain “bench”.")
    reused = REUSE and database_exists(name)
    if not reused:
        recreate_database(name, create=True)
    try:
        setup_test_environment()
        started = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        call_command("seed_bench", connections=SIZE, project=PROJECT)
        seeded = time.perf_counter() - started
        run()
        print(
            f"database {name}: {'reused' if reused else 'created'}; migrate + seed_bench took "
            f"{seeded:.1f} s; median of {REPEAT} requests per page, {PER_PAGE} rows per page"
        )
    finally:
        connections.close_all()
        if not REUSE:
            recreate_database(name, create=False)


def run() -> None:
    from django.contrib.auth.models import User
    from django.test import Client

    from connections.models import Connection

    ctx = prepare()
    base, q = ctx["base"], f"per_page={PER_PAGE}"
    owner = Client()
    owner.force_login(User.objects.get(username="bench-owner"))
    member = Client()
    member.force_login(User.objects.get(username="bench-member"))
    staff = Client()
    staff.force_login(ctx["admin"])
    api = {"Authorization": f"Bearer {ctx['raw_key']}"}
    total = Connection.objects.filter(project=ctx["project"]).count()
    with override_settings(ROOT_URLCONF="bench.urls", DEBUG=False):
        pages: list[Page] = [
            ("bare view (base layout)", owner, "/_bench/bare/", {}, False),
            ("list, first page (owner)", owner, f"{base}?{q}", {}, True),
            ("list, first page, default size (25 rows)", owner, base, {}, True),
            (
                f"list, status=error ({ctx['errors']:,} rows)",
                owner,
                f"{base}?{q}&status=error",
                {},
                True,
            ),
            ("list, search a name fragment (“lindq”)", owner, f"{base}?{q}&q=lindq", {}, True),
            ("list, search one owner id", owner, f"{base}?{q}&q={ctx['rare_owner']}", {}, True),
            (
                f"list, page {ctx['deep_page']:,} (keyset cursor)",
                owner,
                f"{base}?{q}&after={ctx['deep_after']}",
                {},
                True,
            ),
            ("list, sorted by name", owner, f"{base}?{q}&sort=name&dir=asc", {}, True),
            ("list, sorted by last used", owner, f"{base}?{q}&sort=last_used_at", {}, True),
            ("list, member (grants + org role only)", member, f"{base}?{q}", {}, True),
            ("connection page", owner, f"{base}{ctx['detail_id']}/", {}, True),
            (
                "API GET /connections?limit=50 (exact total)",
                owner,
                "/api/v1/connections?limit=50",
                api,
                False,
            ),
            ("profiles page (owner)", owner, f"/p/{ctx['project'].slug}/profiles/", {}, True),
            ("API GET /connector_profiles", owner, "/api/v1/connector_profiles", api, False),
            ("admin changelist (superuser)", staff, "/admin/connections/connection/", {}, False),
            (
                "admin search one owner id",
                staff,
                f"/admin/connections/connection/?q={ctx['rare_owner']}",
                {},
                False,
            ),
        ]
        results = measure(pages)
    bare = results[0].seconds
    for r in results:
        r.ratio = r.seconds / bare
    print(
        f"Connections benchmark on PostgreSQL: {total:,} connections in {PROJECT}; goals: the "
        f"owner's list ≤ {GOALS['list']:g}× the bare view (searches ≤ {GOAL:g}×), a member's "
        f"≤ {GOALS['member']:g}× and ≤ {MEMBER_OVER_OWNER:g}× the owner's, other pages ≤ {GOAL:g}×"
    )
    print_table(results)
    owners = next(r for r in results if r.label.startswith("list, first page (owner)"))
    members = next(r for r in results if "member" in r.label)
    print(
        f"member's list ÷ owner's: {members.seconds / owners.seconds:.2f} "
        f"(goal ≤ {MEMBER_OVER_OWNER:g})"
    )
    for r in results:
        if not r.dashboard or r.ratio <= r.goal:
            continue
        sql_seconds = sum(float(q["time"]) for q in r.queries)
        share = sql_seconds / r.seconds
        print(
            f"\n{r.label}: {r.ratio:.1f}× the bare view; SQL {sql_seconds * 1000:.0f} ms of "
            f"{r.seconds * 1000:.0f} ms ({share:.0%}), the rest Python (view, ORM, templates)"
        )
        if sql_seconds < bare:
            continue
        for query in slowest(r):
            print(f"  [{float(query['time']) * 1000:.0f} ms] {query['sql'][:300]}")
            for line in explain(query["sql"]):
                if PLAN_SUMMARY.search(line) and not PLAN_NOISE.search(line):
                    print(f"      {line.strip()[:220]}")


if __name__ == "__main__":
    main()
