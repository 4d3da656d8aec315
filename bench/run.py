"""Benchmarks: server time of pages as ratios to a bare view, measured in one run.

Runs on a throw-away test database: PostgreSQL when DATABASE_URL is set, else SQLite.
Prints ratios (goal: a few × the bare layout) and query counts; never fails on speed.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import (  # noqa: E402
    CaptureQueriesContext,
    override_settings,
    setup_test_environment,
)

REPEAT = int(os.environ.get("BENCH_REPEAT", "40"))


def seed(members: int, audit_entries: int, api_keys: int) -> tuple[str, str]:
    from django.contrib.auth.models import User

    from projects.models import AuditEntry, Membership, Role, Team
    from projects.services import Actor, api_key_create, organization_create, project_create

    actor = Actor.system()
    owner = User.objects.create_user("bench-owner", "owner@example.com", "bench-password-1")
    organization = organization_create(actor=actor, slug="bench", name="Bench", owner=owner)
    project = project_create(actor=actor, organization=organization, slug="bench-prod", name="P")
    users = User.objects.bulk_create(
        User(username=f"user{i}", email=f"user{i}@example.com") for i in range(members)
    )
    Membership.objects.bulk_create(
        Membership(organization=organization, user=u, role=Role.MEMBER) for u in users
    )
    for t in range(20):
        team = Team.objects.create(organization=organization, name=f"Team {t}")
        team.members.add(*users[t::20])
    raw = ""
    for _ in range(api_keys):
        _key, raw = api_key_create(actor=actor, project=project, name="bench")
    AuditEntry.objects.bulk_create(
        AuditEntry(
            organization=organization,
            project=project,
            actor_label="bench",
            action="project.updated",
            target_type="project",
            target_id=str(project.pk),
            target_repr="P",
            after={"n": i},
        )
        for i in range(audit_entries)
    )
    return project.slug, raw


def measure(client, url: str, **headers: str) -> tuple[float, int]:
    client.get(url, headers=headers)  # warm up
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        response = client.get(url, headers=headers)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as ctx:
        client.get(url, headers=headers)
    return statistics.median(times), len(ctx.captured_queries)


def main() -> None:
    from django.test import Client

    setup_test_environment()
    db_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        with override_settings(ROOT_URLCONF="bench.urls", DEBUG=False):
            members, entries, keys = 300, 20_000, 50
            slug, raw_key = seed(members, entries, keys)
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE")  # as autovacuum would on a live database
            from django.contrib.auth.models import User

            client = Client()
            # Logged in without a password check (django-axes wants a request for that).
            client.force_login(User.objects.get(username="bench-owner"))
            rows = [
                ("bare view (base layout)", "/_bench/bare/", {}),
                ("project overview", f"/p/{slug}/", {}),
                ("connectors (empty state)", f"/p/{slug}/connectors/", {}),
                (
                    f"members & teams ({members} members, 20 teams)",
                    f"/p/{slug}/settings/members/",
                    {},
                ),
                (f"API keys ({keys})", f"/p/{slug}/settings/api-keys/", {}),
                (f"audit log page 1 ({entries} entries)", f"/p/{slug}/settings/audit/", {}),
                (
                    "audit log, deep page (cursor)",
                    f"/p/{slug}/settings/audit/?before={entries // 3}",
                    {},
                ),
                ("audit log filtered", f"/p/{slug}/settings/audit/?action=api_key", {}),
                (
                    "API GET /api/v1/project (Bearer)",
                    "/api/v1/project",
                    {"Authorization": f"Bearer {raw_key}"},
                ),
            ]
            vendor = connection.vendor
            print(f"Connector Hub benchmark on {vendor}, median of {REPEAT} requests each")
            results = [(label, *measure(client, url, **h)) for label, url, h in rows]
            base = results[0][1]
            print(f"{'page':<48} {'ms':>8} {'× bare':>8} {'queries':>8}")
            for label, seconds, queries in results:
                print(f"{label:<48} {seconds * 1000:8.2f} {seconds / base:8.2f} {queries:8d}")
    finally:
        connection.creation.destroy_test_db(db_name, verbosity=0)


if __name__ == "__main__":
    main()
