"""Load benchmark with Locust (headless, loopback only, bounded in time): two gunicorn app
servers on PostgreSQL + Redis with BENCH_CONNECTIONS connections (seed_bench; 1,000,000 by
default), BENCH_USERS concurrent users (16) on each target in turn for BENCH_SECONDS (10), in
BENCH_ROUNDS rounds (3).

Prints, per target, requests per second as a share of the bare base-layout view's, the
p50/p95/p99 latencies and the errors. Never fails on speed.

Environment: DATABASE_URL (PostgreSQL; its name must contain "bench"; dropped and re-created
unless BENCH_REUSE=1 and it exists), BENCH_REDIS_URL (redis://127.0.0.1:6379/15; a key prefix
unique to the run, deleted at the end), BENCH_PORTS ("8101 8102"), WEB_CONCURRENCY (1 sync
worker per server).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
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

import redis  # noqa: E402
import requests  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from bench.connections import database_exists, recreate_database, refuse  # noqa: E402

SIZE = int(os.environ.get("BENCH_CONNECTIONS", "1000000"))
USERS = int(os.environ.get("BENCH_USERS", "16"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
PORTS = os.environ.get("BENCH_PORTS", "8101 8102").split()
REUSE = os.environ.get("BENCH_REUSE", "") == "1"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
PREFIX = f"bench-load-{uuid.uuid4().hex[:10]}"
PROJECT = "bench-prod"
# The servers' key: the owner's session is made under it too (a session's auth hash is an HMAC
# of this key; under another key every server would log the session out).
SERVER_SECRET_KEY = "bench-load-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-0123"


def database_url() -> str:
    db: dict[str, Any] = settings.DATABASES["default"]
    auth = f"{db['USER']}:{db['PASSWORD']}" if db.get("PASSWORD") else db["USER"]
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        ENV_FILE=str(ROOT / "no-such-env-file"),
        DATABASE_URL=database_url(),
        CACHE_URL=REDIS_URL,
        CACHE_KEY_PREFIX=PREFIX,
        SECRET_KEY=SERVER_SECRET_KEY,
        GUNICORN_ACCESS_LOG="",
        WEB_CONCURRENCY=os.environ.get("WEB_CONCURRENCY", "1"),
        LOG_LEVEL="WARNING",
    )
    return env


def start_servers() -> list[subprocess.Popen[bytes]]:
    servers = []
    for port in PORTS:
        servers.append(
            subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi"],
                cwd=ROOT,
                env={**server_env(), "GUNICORN_BIND": f"127.0.0.1:{port}"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    for port in PORTS:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.3)
        else:
            raise RuntimeError(f"app server on port {port} did not become ready")
    return servers


def prepare() -> dict[str, str]:
    """A logged-in owner session (in the database: every server reads it), an API key, the
    targets' paths."""
    from django.contrib.auth.models import User
    from django.test import Client

    from connections.models import Connection
    from projects.models import ApiKey, Project
    from projects.services import Actor, api_key_create

    project = Project.objects.get(slug=PROJECT)
    ApiKey.objects.filter(project=project, name="bench-load").delete()
    _key, raw = api_key_create(actor=Actor.system(), project=project, name="bench-load")
    client = Client()
    with override_settings(SECRET_KEY=SERVER_SECRET_KEY):
        client.force_login(User.objects.get(username="bench-owner"))
    session = client.cookies["sessionid"].value
    middle = (
        Connection.objects.filter(project=project)
        .order_by("-created_at", "-id")
        .only("public_id")[SIZE // 2]
    )
    base = f"/p/{project.slug}/connections/"
    return {"session": session, "key": raw, "base": base, "detail": f"{base}{middle.public_id}/"}


def locust(path: str, auth: dict[str, str], out: Path) -> dict[str, float]:
    env = {
        **os.environ,
        "BENCH_HOSTS": " ".join(f"http://127.0.0.1:{p}" for p in PORTS),
        "BENCH_TARGET_PATH": path,
        **auth,
    }
    prefix = out / uuid.uuid4().hex[:8]
    subprocess.run(  # noqa: S603 - locust from this venv, fixed arguments
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(ROOT / "bench" / "locustfile.py"),
            "--headless",
            "-u",
            str(USERS),
            "-r",
            str(USERS),
            "-t",
            f"{SECONDS}s",
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "ERROR",
            "--stop-timeout",
            "5",
        ],
        cwd=ROOT,
        env=env,
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=SECONDS + 60,
    )
    with open(f"{prefix}_stats.csv", newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")
    return {
        "rps": float(row["Requests/s"]),
        "requests": float(row["Request Count"]),
        "errors": float(row["Failure Count"]),
        "p50": float(row["50%"]),
        "p95": float(row["95%"]),
        "p99": float(row["99%"]),
    }


def main() -> None:
    if connections["default"].vendor != "postgresql":
        refuse("needs PostgreSQL: set DATABASE_URL to a throw-away postgres:// database")
    name = str(settings.DATABASES["default"]["NAME"])
    if "bench" not in name:
        refuse(f"the database “{name}” is dropped and re-created; its name must contain “bench”.")
    redis.Redis.from_url(REDIS_URL).ping()
    reused = REUSE and database_exists(name)
    if not reused:
        recreate_database(name, create=True)
    servers: list[subprocess.Popen[bytes]] = []
    try:
        started = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        call_command("seed_bench", connections=SIZE, project=PROJECT)
        seeded = time.perf_counter() - started
        ctx = prepare()
        connections.close_all()
        servers = start_servers()
        session = {"BENCH_SESSION": ctx["session"]}
        api = {"BENCH_AUTH": f"Bearer {ctx['key']}"}
        # label, path, credentials, the goal (a share of the bare view's rate; issue 20)
        targets = [
            ("bare view (base layout)", "/_bench/bare/", session, 1.0),  # its share: drift
            ("connections list, 50 rows", f"{ctx['base']}?per_page=50", session, 0.5),
            ("connection page", ctx["detail"], session, 0.5),
            ("API GET /connections?limit=50", "/api/v1/connections?limit=50", api, 0.5),
            ("API GET /connector_profiles", "/api/v1/connector_profiles", api, 0.7),
        ]
        with tempfile.TemporaryDirectory() as out:
            for label, path, auth, _goal in targets:
                for warm in range(3):  # each server's caches warm before the timed phase
                    answer = requests.get(
                        f"http://127.0.0.1:{PORTS[warm % len(PORTS)]}{path}",
                        headers={"Authorization": auth["BENCH_AUTH"]}
                        if "BENCH_AUTH" in auth
                        else {},
                        cookies={"sessionid": auth.get("BENCH_SESSION", "")},
                        timeout=60,
                        allow_redirects=False,
                    )
                    if answer.status_code != 200:  # e.g. a refused session: the login page
                        raise RuntimeError(f"{label}: {path} answered {answer.status_code}")
            # Rounds of every target in turn: a shared machine's speed drifts over minutes, so
            # each target's share is taken against the bare view of its own round (median of
            # the rounds), never against one bare view measured minutes apart.
            rounds = [
                [locust(path, auth, Path(out)) for _label, path, auth, _goal in targets]
                for _round in range(ROUNDS)
            ]
            _label, bare_path, bare_auth, _goal = targets[0]
            closing = locust(bare_path, bare_auth, Path(out))
        # A round's targets against the mean of the bare view at its start and at the next
        # round's start (the closing run after the last): the bare view brackets them.
        bares = [r[0]["rps"] for r in rounds] + [closing["rps"]]
        bracket = [((bares[k] + bares[k + 1]) / 2) or 1.0 for k in range(ROUNDS)]
        print(
            f"Load benchmark (Locust): {SIZE:,} connections, {len(PORTS)} gunicorn servers × "
            f"{server_env()['WEB_CONCURRENCY']} sync worker, PostgreSQL + Redis, {USERS} users, "
            f"{ROUNDS} rounds of {SECONDS} s per target, loopback; medians of the rounds"
        )
        header = (
            f"{'target':<34} {'req/s':>7} {'share':>6} {'goal':>6} {'p50 ms':>7} {'p95 ms':>7} "
            f"{'p99 ms':>7} {'errors':>11}  shares by round"
        )
        print(header)
        print("-" * len(header))
        for i, (label, _path, _auth, goal) in enumerate(targets):
            runs = [r[i] for r in rounds]
            shares = [r[i]["rps"] / bracket[k] for k, r in enumerate(rounds)]
            share = statistics.median(shares)

            def median(key: str, runs: list[dict[str, float]] = runs) -> float:
                return statistics.median(run[key] for run in runs)

            errors = f"{sum(r['errors'] for r in runs):.0f}/{sum(r['requests'] for r in runs):.0f}"
            flag = "  under goal" if i and share < goal else ""  # the bare view: none
            by_round = " ".join(f"{x:.2f}" for x in shares)
            print(
                f"{label:<34} {median('rps'):>7.1f} {share:>6.2f} "
                f"{'≥' + format(goal, 'g') if i else '-':>6} "
                f"{median('p50'):>7.0f} {median('p95'):>7.0f} {median('p99'):>7.0f} "
                f"{errors:>11}  {by_round}{flag}"
            )
        print(
            f"database {name}: {'reused' if reused else 'created'}; migrate + seed {seeded:.0f} s"
        )
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{PREFIX}:*"):
            client.delete(key)
        connections.close_all()
        if not REUSE:
            recreate_database(name, create=False)


if __name__ == "__main__":
    main()
