"""Benchmark of the runtime (issue 13), measured in one run against a provider on loopback.

- **direct**: a keep-alive HTTP GET of the provider's 50-record endpoint;
- **engine**: ``runtime.services.action_run`` (one ``request`` step + ``map_fields`` over the
  50 records), without the HTTP layer of the API;
- **endpoint**: ``POST /api/v1/connections/{id}/actions/list_contacts`` through
  django.test.Client (DEBUG off).

Prints the medians, the runtime's overhead (ms and ratio to the direct call) and the queries
of one warm call (goal: at most 2 on a warm cache, overhead under 2 ms at p50 on PostgreSQL +
Redis). With DATABASE_URL on PostgreSQL it also runs gunicorn on 127.0.0.1:BENCH_PORT (8131)
and measures the throughput of the actions endpoint under BENCH_CLIENTS (16) concurrent
clients against the direct call. CACHE_URL (e.g. redis://127.0.0.1:6379/3) selects the
shared cache. Never fails on speed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
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

import requests  # noqa: E402
import yaml  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import (  # noqa: E402
    CaptureQueriesContext,
    override_settings,
    setup_test_environment,
)

REPEAT = int(os.environ.get("BENCH_REPEAT", "200"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "16"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
PORT = int(os.environ.get("BENCH_PORT", "8131"))
RECORDS = 50


def contacts() -> dict[str, Any]:
    return {
        "contacts": [
            {
                "id": n,
                "name": f"Contact {n}",
                "email": f"c{n}@x.example",
                "stage": "lead",
                "score": "7",
            }
            for n in range(RECORDS)
        ]
    }


def document(base_url: str) -> bytes:
    fields = [
        {"targetFieldKey": "id", "expression": "$.id", "type": "string"},
        {"targetFieldKey": "name", "expression": "$.name", "type": "string"},
        {"targetFieldKey": "email", "expression": "$.email", "type": "string"},
        {
            "targetFieldKey": "stage",
            "expression": "$.stage",
            "type": "enum",
            "enumMapper": {"matcher": [{"matchExpression": "lead", "value": "prospect"}]},
        },
        {"targetFieldKey": "score", "expression": "$.score", "type": "number"},
    ]
    definition = {
        "info": {"title": "Bench CRM", "key": "bench_crm", "version": "1.0.0"},
        "baseUrl": base_url,
        "authentication": {
            "type": "api_key",
            "headerName": "X-Api-Key",
            "configFields": [
                {
                    "key": "api_key",
                    "label": "Key",
                    "type": "password",
                    "required": True,
                    "secret": True,
                }
            ],
        },
        "actions": [
            {
                "actionId": "list_contacts",
                "categories": ["crm"],
                "actionType": "list",
                "label": "List contacts",
                "description": "50 contacts",
                "steps": [
                    {
                        "stepId": "fetch",
                        "stepFunction": {
                            "functionName": "request",
                            "parameters": {"url": "/contacts", "response": {"dataKey": "contacts"}},
                        },
                    },
                    {
                        "stepId": "mapped",
                        "stepFunction": {
                            "functionName": "map_fields",
                            "parameters": {
                                "dataSource": "$.steps.fetch.output.data",
                                "fields": fields,
                            },
                        },
                    },
                ],
                "result": {"data": "$.steps.mapped.output.data"},
            }
        ],
    }
    return yaml.safe_dump(definition, sort_keys=False).encode()


def median_ms(call: Any, repeat: int = REPEAT) -> tuple[float, float]:
    call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def throughput(call: Any) -> float:
    done = [0] * CLIENTS
    stop = time.perf_counter() + SECONDS

    def worker(n: int) -> None:
        while time.perf_counter() < stop:
            call()
            done[n] += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / SECONDS


def world(provider_url: str, slug: str) -> tuple[Any, Any]:
    """A project with bench_crm on ``provider_url``, a profile and one connection on it."""
    from django.contrib.auth.models import User

    from profiles.services import connector_version_push, profile_create
    from projects.services import Actor, organization_create, project_create
    from tests.factories import make_connection

    actor = Actor.system()
    owner = User.objects.create_user("bench-owner", "o@example.com", "bench-password-1")
    organization = organization_create(actor=actor, slug="bench", name="Bench", owner=owner)
    project = project_create(actor=actor, organization=organization, slug=slug, name="P")
    connector_version_push(actor=actor, project=project, files=[("c.yaml", document(provider_url))])
    profile = profile_create(
        actor=actor, project=project, connector_key="bench_crm", name="main", pin=None
    )
    return project, make_connection(profile, config={"api_key": "sk_bench_key_000000"})


def main() -> None:
    from django.test import Client

    from projects.services import Actor, api_key_create
    from runtime.services import action_run
    from tests.provider import Answer, provider_server

    setup_test_environment()
    db_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    postgres = connection.vendor == "postgresql"
    cache_url = os.environ.get("CACHE_URL", "")
    print(f"runtime bench: {connection.vendor}, cache {cache_url or 'locmem'}, {REPEAT} calls")
    caches = (
        {"default": {"BACKEND": "core.cache.FailSoftRedisCache", "LOCATION": cache_url}}
        if cache_url.startswith("redis")
        else None
    )
    cache_settings = override_settings(CACHES=caches) if caches else override_settings()
    try:
        with provider_server() as provider, override_settings(DEBUG=False), cache_settings:
            provider.routes["/contacts"] = Answer(200, contacts())
            actor = Actor.system()
            project, account = world(provider.url, "bench-rt")
            _key, raw = api_key_create(actor=actor, project=project, name="bench")

            session = requests.Session()
            direct_url = provider.url + "/contacts"
            direct = median_ms(
                lambda: session.get(direct_url, headers={"X-Api-Key": "sk_bench_key_000000"}).json()
            )
            engine = median_ms(
                lambda: action_run(
                    actor=actor,
                    project=project,
                    connection=account,
                    action_id="list_contacts",
                    inputs={},
                )
            )
            from django.utils import timezone

            from runtime.models import RequestLog

            insert = median_ms(
                lambda: RequestLog.objects.create(
                    connection_id=account.pk,
                    action_id="x",
                    status="ok",
                    http_status=200,
                    duration_ms=1,
                    created_at=timezone.now(),
                )
            )
            client = Client(headers={"Authorization": f"Bearer {raw}"})
            url = f"/api/v1/connections/{account.public_id}/actions/list_contacts"

            def through() -> None:
                response = client.post(url, {"inputs": {}}, content_type="application/json")
                assert response.status_code == 200, response.content

            endpoint = median_ms(through)
            if os.environ.get("BENCH_PROFILE"):
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                profiler.enable()
                for _ in range(20):
                    action_run(
                        actor=actor,
                        project=project,
                        connection=account,
                        action_id="list_contacts",
                        inputs={},
                    )
                profiler.disable()
                pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
            with CaptureQueriesContext(connection) as queries:
                through()
            with CaptureQueriesContext(connection) as engine_queries:
                action_run(
                    actor=actor,
                    project=project,
                    connection=account,
                    action_id="list_contacts",
                    inputs={},
                )
            print(
                f"  direct GET of {RECORDS} records   p50 {direct[0]:7.2f} ms"
                f"  p95 {direct[1]:7.2f} ms"
            )
            print(
                f"  one request-log insert       p50 {insert[0]:7.2f} ms  p95 {insert[1]:7.2f} ms"
            )
            print(
                f"  engine (action_run)          p50 {engine[0]:7.2f} ms  p95 {engine[1]:7.2f} ms"
                f"  overhead {engine[0] - direct[0]:6.2f} ms ({engine[0] / direct[0]:.2f}×),"
                f" {len(engine_queries)} queries"
            )
            print(
                f"  POST .../actions (Client)    p50 {endpoint[0]:7.2f} ms"
                f"  p95 {endpoint[1]:7.2f} ms"
                f"  overhead {endpoint[0] - direct[0]:6.2f} ms ({endpoint[0] / direct[0]:.2f}×),"
                f" {len(queries)} queries: "
                + "; ".join(q["sql"][:60] for q in queries.captured_queries)
            )
            if postgres:
                gunicorn_throughput(db_name, url, raw, direct_url)
            else:
                print("  throughput: PostgreSQL only (gunicorn needs a shared database)")
    finally:
        connection.creation.destroy_test_db(db_name, verbosity=0)


def gunicorn_throughput(db_name: str, path: str, raw_key: str, direct_url: str) -> None:
    base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    env = {
        **os.environ,
        "DATABASE_URL": f"{base}/{db_name}",
        "GUNICORN_BIND": f"127.0.0.1:{PORT}",
        "GUNICORN_ACCESS_LOG": "",
        "WEB_CONCURRENCY": os.environ.get("WEB_CONCURRENCY", "2"),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "config/gunicorn.py",
            "--threads",
            "8",
            "config.wsgi",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{PORT}{path}"
        headers = {"Authorization": f"Bearer {raw_key}", "Content-Type": "application/json"}
        for _ in range(100):
            try:
                if requests.post(
                    url, data=json.dumps({"inputs": {}}), headers=headers, timeout=2
                ).ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        local = threading.local()

        def session() -> requests.Session:
            if not hasattr(local, "s"):
                local.s = requests.Session()
            return local.s

        direct = throughput(lambda: session().get(direct_url, headers={"X-Api-Key": "k"}))
        actions = throughput(
            lambda: session().post(url, data='{"inputs": {}}', headers=headers, timeout=10)
        )
        print(
            f"  throughput, {CLIENTS} clients, {SECONDS:.0f} s: direct {direct:7.1f} req/s, "
            f"actions via gunicorn {actions:7.1f} req/s ({actions / direct:.2f}× of direct)"
        )
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
