"""Benchmark of events and webhooks (PostgreSQL), measured in one run.

1. Events recorded when 10,000 connections are deleted in one bulk action (the dashboard's
   "Delete" on a selection): time and queries, beside the same bulk delete of another 10,000
   with event recording switched off (the ratio is what the outbox costs). The task backend
   is the database one, as in production: each committed delete enqueues its fan-out.
2. Delivery throughput of the worker to a local receiver on loopback (127.0.0.1, signatures
   verified with standardwebhooks there): deliveries per second for one worker, and for
   BENCH_WORKERS worker threads (each attempt is its own task, so workers add up).

DATABASE_URL's database (its name must contain "bench") is dropped and re-created. Never
fails on speed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault(
    "FIELD_ENCRYPTION_KEYS",
    base64.urlsafe_b64encode(hashlib.sha256(b"connector-hub-bench-only").digest()).decode(),
)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from standardwebhooks import Webhook, WebhookVerificationError  # noqa: E402

from bench.connections import recreate_database, refuse  # noqa: E402

SIZE = int(os.environ.get("BENCH_BULK", "10000"))
# The bulk delete without events, for the ratio (per connection): smaller, the delete itself
# is what takes the time.
BASELINE = int(os.environ.get("BENCH_BULK_BASELINE", "2000"))
DELIVERIES = int(os.environ.get("BENCH_DELIVERIES", "2000"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
RECEIVER_PORT = int(os.environ.get("BENCH_RECEIVER_PORT", "0"))
PROJECT = "bench-events"
DB_BACKEND = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


class Receiver(BaseHTTPRequestHandler):
    secret = ""
    verified = 0
    lock = threading.Lock()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            Webhook(self.secret).verify(body, dict(self.headers))
            status = 204
            with Receiver.lock:
                Receiver.verified += 1
        except WebhookVerificationError:
            status = 400
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


class QueryCounter:
    """Counts every query (CaptureQueriesContext keeps only the last 9,000)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def bulk_delete(project: Any, ids: list[int], *, events: bool) -> tuple[float, int]:
    from connections import rbac
    from connections.models import Connection
    from connections.services import announce
    from connections.services.connections import connections_bulk
    from projects.services import Actor

    original = announce.event_record
    if not events:
        announce.event_record = lambda **_: None  # type: ignore[assignment]
    try:
        rows = Connection.objects.filter(pk__in=ids).select_related("profile", "connector")
        counter = QueryCounter()
        with connection.execute_wrapper(counter):
            started = time.perf_counter()
            done, _ = connections_bulk(
                actor=Actor.system(),
                viewer=rbac.Viewer(user=None, membership=None),
                connections=rows,
                action="delete",
            )
            spent = time.perf_counter() - started
    finally:
        announce.event_record = original
    assert done == len(ids), (done, len(ids))
    return spent, counter.count


def throughput(delivery_ids: list[int], workers: int) -> float:
    from events.services import delivery_attempt

    def attempt(delivery_id: int) -> None:
        try:
            delivery_attempt(delivery_id)
        finally:
            connections.close_all()

    started = time.perf_counter()
    if workers == 1:
        for delivery_id in delivery_ids:
            delivery_attempt(delivery_id)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(attempt, delivery_ids))
    return len(delivery_ids) / (time.perf_counter() - started)


def run() -> None:
    from connections.models import Connection
    from events.models import Delivery, Event
    from events.services import endpoint_create, event_dispatch
    from projects.models import Project
    from projects.services import Actor

    call_command("seed_bench", connections=BASELINE + SIZE, project=PROJECT, verbosity=0)
    project = Project.objects.get(slug=PROJECT)
    ids = list(
        Connection.objects.filter(project=project).order_by("pk").values_list("pk", flat=True)
    )

    server = ThreadingHTTPServer(("127.0.0.1", RECEIVER_PORT), Receiver)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    endpoint, secret = endpoint_create(
        actor=Actor.system(), project=project, url=url, events=["connection.deleted"]
    )
    Receiver.secret = secret
    try:
        with override_settings(TASKS=DB_BACKEND):
            bare, bare_queries = bulk_delete(project, ids[:BASELINE], events=False)
            with_events, event_queries = bulk_delete(project, ids[BASELINE:], events=True)
        recorded = Event.objects.filter(project=project, type="connection.deleted").count()
        per_bare, per_events = bare / BASELINE * 1000, with_events / SIZE * 1000
        print("bulk delete (database task backend), per connection:")
        print(
            f"  without events  {per_bare:6.2f} ms  {bare_queries / BASELINE:5.1f} queries  "
            f"({BASELINE:,} connections, {bare:.1f} s)"
        )
        print(
            f"  with events     {per_events:6.2f} ms  {event_queries / SIZE:5.1f} queries  "
            f"({SIZE:,} connections, {with_events:.1f} s, {event_queries:,} queries, "
            f"{recorded:,} events recorded; {per_events / per_bare:.2f}× the time)"
        )

        started = time.perf_counter()
        events = list(
            Event.objects.filter(project=project).order_by("pk").values_list("pk", flat=True)
        )
        delivery_ids: list[int] = []
        for event_id in events[: DELIVERIES * 2]:
            delivery_ids.extend(event_dispatch(event_id))
        fanout = len(delivery_ids) / (time.perf_counter() - started)
        print(f"fan-out: {fanout:,.0f} events per second into deliveries (one endpoint)")
        one = throughput(delivery_ids[:DELIVERIES], 1)
        many = throughput(delivery_ids[DELIVERIES : 2 * DELIVERIES], WORKERS)
        succeeded = Delivery.objects.filter(endpoint=endpoint, status="succeeded").count()
        print(
            f"delivery to a local receiver: {one:,.0f}/s with 1 worker, {many:,.0f}/s with "
            f"{WORKERS} worker threads ({many / one:.2f}×); {succeeded:,} succeeded, "
            f"{Receiver.verified:,} signatures verified by the receiver"
        )
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        refuse("needs PostgreSQL: set DATABASE_URL to a throw-away database (`make bench` does).")
    name = str(settings.DATABASES["default"]["NAME"])
    if "bench" not in name:
        refuse(f"the database “{name}” is dropped and re-created; its name must contain “bench”.")
    recreate_database(name, create=True)
    try:
        call_command("migrate", verbosity=0, interactive=False)
        run()
    finally:
        connections.close_all()
        recreate_database(name, create=False)


if __name__ == "__main__":
    main()
