"""Benchmark of profile migrations at a million connections (PostgreSQL), measured in one run.

With 200,000 connections pending out of 1,000,000, the Migrations page and a
migration page (first and a deep page of pending accounts) as ratios to the bare view, with
query counts, the API's migration endpoints, and the time to enqueue notices for all 200,000.

Seeds (or reuses, see below) the database of bench/connections.py with ``seed_bench`` (a million
connections), then ``seed_bench_migration``: a migration from a "legacy" profile holding exactly
BENCH_PENDING (200,000) of them to a "v2" profile that BENCH_MIGRATED (50,000) already reached by
re-authentication. Pages are timed as bench/connections.py times them (median over BENCH_REPEAT
rounds through django.test.Client, DEBUG off, the bench URLs with the bare view); a dashboard
page over 5× the bare view gets its SQL/Python split and the plans of its slowest queries.

The enqueue figure is migration_notify for every pending account with the django-tasks-db
backend (the production default): ids fetched, then one task row per 500 accounts inserted at
commit. The task rows are deleted straight after, so no email is ever sent.

BENCH_REUSE=1 keeps the database and reuses it (seeding only what is missing); without it the
database is re-created and dropped. Never fails on speed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
# The same fixed key as bench/connections.py: the two share a database, reused across runs.
os.environ.setdefault(
    "FIELD_ENCRYPTION_KEYS",
    base64.urlsafe_b64encode(hashlib.sha256(b"connector-hub-bench-only").digest()).decode(),
)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402
from django.test.utils import (  # noqa: E402
    CaptureQueriesContext,
    override_settings,
    setup_test_environment,
)

from bench.connections import (  # noqa: E402
    GOAL,
    PLAN_NOISE,
    PLAN_SUMMARY,
    REPEAT,
    SIZE,
    Page,
    Result,
    database_exists,
    explain,
    measure,
    print_table,
    recreate_database,
    slowest,
)

REUSE = os.environ.get("BENCH_REUSE", "") == "1"
PENDING = int(os.environ.get("BENCH_PENDING", "200000"))
MIGRATED = int(os.environ.get("BENCH_MIGRATED", "50000"))
PROJECT = "bench-prod"
DEEP_ROW = 100_000  # the deep pages start after this many pending accounts
API_KEY_NAME = "bench-migrations"
DB_TASKS = {
    "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]},
}


def refuse(message: str) -> None:
    print(f"bench/migrations.py: {message}", file=sys.stderr)
    sys.exit(2)


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
        call_command("seed_bench_migration", project=PROJECT, pending=PENDING, migrated=MIGRATED)
        seeded = time.perf_counter() - started
        run()
        print(
            f"database {name}: {'reused' if reused else 'created'}; migrate + seeding took "
            f"{seeded:.1f} s; median of {REPEAT} requests per page"
        )
    finally:
        connections.close_all()
        if not REUSE:
            recreate_database(name, create=False)


# --- Setup ---------------------------------------------------------------------------------


def prepare() -> dict[str, Any]:
    """The migration, an API key and the deep pages' cursor (computed from the data)."""
    from core.pager import KeysetOrder, encode_cursor
    from projects.models import ApiKey, Project
    from projects.services import Actor, api_key_create
    from rollouts import selectors as migration_selectors
    from rollouts.models import ProfileMigration

    project = Project.objects.get(slug=PROJECT)
    migration = ProfileMigration.objects.select_related("from_profile", "to_profile").get(
        project=project, from_profile__name="legacy", completed_at__isnull=True
    )
    ApiKey.objects.filter(project=project, name=API_KEY_NAME).delete()  # an earlier run's
    _key, raw_key = api_key_create(actor=Actor.system(), project=project, name=API_KEY_NAME)
    pending = migration_selectors.pending(migration).order_by("-created_at", "-id")
    before_deep = pending.only("id", "created_at")[DEEP_ROW - 1]
    return {
        "project": project,
        "migration": migration,
        "raw_key": raw_key,
        "deep_after": encode_cursor(before_deep, KeysetOrder("created_at")),
        "progress": migration_selectors.progress(migration),
    }


# --- Pages ---------------------------------------------------------------------------------


def pages_of(ctx: dict[str, Any], owner: Any) -> tuple[list[Page], list[Page]]:
    """(API pages, dashboard pages): the API ones are measured even while the migration
    pages are still missing."""
    m = ctx["migration"]
    api = {"Authorization": f"Bearer {ctx['raw_key']}"}
    base = f"/p/{ctx['project'].slug}/migrations/"
    detail = f"{base}{m.public_id}/"
    api_pages: list[Page] = [
        ("API GET /migrations", owner, "/api/v1/migrations", api, False),
        ("API GET /migrations/{id}", owner, f"/api/v1/migrations/{m.public_id}", api, False),
        (
            "API GET …/pending (limit 50)",
            owner,
            f"/api/v1/migrations/{m.public_id}/pending",
            api,
            False,
        ),
        (
            f"API GET …/pending?offset={DEEP_ROW:,}",
            owner,
            f"/api/v1/migrations/{m.public_id}/pending?offset={DEEP_ROW}",
            api,
            False,
        ),
    ]
    dashboard: list[Page] = [
        ("Migrations page", owner, base, {}, True),
        ("migration page, pending page 1 (25 rows)", owner, detail, {}, True),
        (
            f"migration page, pending after row {DEEP_ROW:,} (cursor)",
            owner,
            f"{detail}?after={ctx['deep_after']}",
            {},
            True,
        ),
        ("migration page, pending never notified", owner, f"{detail}?notice=never", {}, True),
        (
            "pending table only (HTMX, page 1)",
            owner,
            detail,
            {"HX-Request": "true", "HX-Target": "pending-table"},
            True,
        ),
    ]
    return api_pages, dashboard


def pages_work(pages: list[Page]) -> list[str]:
    """The labels of pages that do not answer 200 (yet)."""
    failing = []
    for label, client, url, headers, _dashboard in pages:
        status = client.get(url, headers=headers).status_code
        if status != 200:
            failing.append(f"{label}: {status}")
    return failing


# --- Enqueueing notices ----------------------------------------------------------------------


def enqueue_all(migration: Any) -> dict[str, Any]:
    """migration_notify for every pending account through django-tasks-db, timed from the call
    to the end of the commit that inserts the task rows; the rows are deleted after."""
    from django_tasks_db.models import DBTaskResult

    from projects.services import Actor
    from rollouts.services import migration_notify
    from rollouts.tasks import send_migration_notices

    path = send_migration_notices.module_path
    earlier = set(DBTaskResult.objects.filter(task_path=path).values_list("id", flat=True))
    with override_settings(TASKS=DB_TASKS), CaptureQueriesContext(connection) as ctx:
        started = time.perf_counter()
        with transaction.atomic():
            queued = migration_notify(actor=Actor.system(), migration=migration)
            fetched = time.perf_counter()
        done = time.perf_counter()
    created = DBTaskResult.objects.filter(task_path=path).exclude(id__in=earlier)
    rows = list(created.values_list("id", "args_kwargs"))
    accounts = sum(len(args["args"][1]) for _id, args in rows)
    deleted, _ = DBTaskResult.objects.filter(id__in=[i for i, _a in rows]).delete()
    return {
        "queued": queued,
        "tasks": len(rows),
        "accounts_in_tasks": accounts,
        "deleted": deleted,
        "fetch_s": fetched - started,
        "commit_s": done - fetched,
        "total_s": done - started,
        "queries": len(ctx.captured_queries),
    }


# --- Run -----------------------------------------------------------------------------------


def run() -> None:
    from django.contrib.auth.models import User
    from django.test import Client

    from connections.models import Connection

    ctx = prepare()
    owner = Client()
    owner.force_login(User.objects.get(username="bench-owner"))
    total = Connection.objects.filter(project=ctx["project"]).count()
    progress = ctx["progress"]
    bare: Page = ("bare view (base layout)", owner, "/_bench/bare/", {}, False)
    with override_settings(ROOT_URLCONF="bench.urls", DEBUG=False):
        api_pages, dashboard = pages_of(ctx, owner)
        missing = pages_work(dashboard)
        if missing:
            print("Not measured (the migration pages do not answer 200): " + "; ".join(missing))
            dashboard = []
        results = measure([bare, *dashboard, *api_pages])
    bare_s = results[0].seconds
    for r in results:
        r.ratio = r.seconds / bare_s
    print(
        f"Profile-migrations benchmark on PostgreSQL: {total:,} connections in {PROJECT}; "
        f"migration “{ctx['migration'].title}”: {progress.pending:,} pending, "
        f"{progress.migrated:,} migrated ({progress.percent}%); goal ≤ {GOAL:g}× the bare "
        "view for the dashboard pages"
    )
    print_table(results)
    explain_slow(results, bare_s)
    enqueued = enqueue_all(ctx["migration"])
    print(
        f"\nEnqueue notices for all {enqueued['queued']:,} pending accounts (migration_notify, "
        f"django-tasks-db): {enqueued['total_s'] * 1000:.0f} ms — ids fetched + audit "
        f"{enqueued['fetch_s'] * 1000:.0f} ms, {enqueued['tasks']:,} task rows inserted at "
        f"commit {enqueued['commit_s'] * 1000:.0f} ms; {enqueued['queries']:,} queries; "
        f"{enqueued['accounts_in_tasks']:,} accounts in the tasks; {enqueued['deleted']:,} task "
        "rows deleted again (never run)."
    )


def explain_slow(results: list[Result], bare_s: float) -> None:
    for r in results:
        if not r.dashboard or r.ratio <= GOAL:
            continue
        sql_seconds = sum(float(q["time"]) for q in r.queries)
        share = sql_seconds / r.seconds
        print(
            f"\n{r.label}: {r.ratio:.1f}× the bare view; SQL {sql_seconds * 1000:.0f} ms of "
            f"{r.seconds * 1000:.0f} ms ({share:.0%}), the rest Python (view, ORM, templates)"
        )
        if sql_seconds < bare_s:
            continue
        for query in slowest(r):
            print(f"  [{float(query['time']) * 1000:.0f} ms] {query['sql'][:300]}")
            for line in explain(query["sql"]):
                if PLAN_SUMMARY.search(line) and not PLAN_NOISE.search(line):
                    print(f"      {line.strip()[:220]}")


if __name__ == "__main__":
    main()
