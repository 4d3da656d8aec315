"""Connection counters (connections.counters): after any sequence of service writes they equal
a fresh COUNT over the rows; the repair command rebuilds them; the pages and the API that read
them cost the same number of queries at any size."""

from __future__ import annotations

import contextlib
import random
import threading
from collections import Counter
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from connections import counters, rbac, selectors
from connections.models import Connection, ConnectionCount, Health, Status
from connections.services import connect, health
from connections.services.connections import (
    connection_delete,
    connection_set_status,
    connections_bulk,
)
from connections.services.versions import connector_version_delete
from connectors.models import ConnectorVersion
from profiles.models import ConnectorProfile
from projects.models import Project
from projects.services import Actor, ConflictError
from tests.conftest import Tenancy
from tests.factories import (
    make_api_key,
    make_connection,
    make_organization,
    make_profile,
    publish_version,
    update_connections,
)

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
EVERYONE = rbac.Viewer(user=None, membership=None)  # an API key: sees and owns every row


def assert_counted(project: Project) -> None:
    assert counters.stored(project.pk) == counters.fresh(project.pk)
    live = dict(
        Connection.objects.filter(project=project)
        .values_list("profile_id")
        .annotate(n=Count("pk"))
        .values_list("profile_id", "n")
    )
    assert selectors.counts_by_profile(project) == live
    for profile_id, n in live.items():
        assert counters.on_profile(profile_id) == n
    rows = Connection.objects.filter(project=project)
    assert counters.total(project.pk) == rows.count()
    for status in Status.values:
        assert counters.total(project.pk, status=status) == rows.filter(status=status).count()
    for value in Health.values:
        assert counters.total(project.pk, health=value) == rows.filter(health=value).count()
    overview = selectors.counts_by_status_and_health(project, EVERYONE)  # from the counters
    for status in Status.values:
        assert overview["status"].get(status, 0) == rows.filter(status=status).count()
    for value in Health.values:
        assert overview["health"].get(value, 0) == rows.filter(health=value).count()
    for number in set(rows.values_list("resolved_version__version", flat=True)) - {None}:
        on_number = rows.filter(resolved_version__version=number).count()
        assert counters.total(project.pk, version_number=number, connector_key="acme_crm") == (
            rows.filter(resolved_version__version=number, connector__key="acme_crm").count()
        )
        assert counters.total(project.pk, version_number=number) == on_number


def profiles_of(project: Project) -> list[ConnectorProfile]:
    main = make_profile(project, "acme_crm", "production")
    legacy = ConnectorProfile.objects.create(
        project=project, connector=main.connector, name="legacy", pin="1.0.0"
    )
    other = make_profile(project, "orbit_hr", "hr")
    return [main, legacy, other]


def reauthenticate(connection: Connection, profile: ConnectorProfile) -> None:
    """The end user reconnects through a link routed to ``profile`` (moves the account)."""
    created = connect.connect_session_create(
        actor=SYSTEM,
        project=profile.project,
        connector_profile_id=profile.public_id,
        account_id=connection.public_id,
    )
    connect.connect_with_config(token=created.token, values={"api_key": "sk_live_0123456789ab"})


def health_result(connection: Connection, rng: random.Random) -> None:
    outcome = rng.choice([Health.HEALTHY, Health.UNHEALTHY, Health.NEEDS_REAUTH, Health.UNKNOWN])
    health.health_result_record(
        actor=SYSTEM,
        connection=connection,
        result=health.HealthResult(outcome, timezone.now(), "checked"),
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_counters_equal_a_fresh_count_after_random_service_writes(seed: int) -> None:
    rng = random.Random(seed)
    project = Project.objects.create(
        organization=make_organization(),
        slug=f"counted-{seed}",
        name="Counted",
        immutable_versioning=False,
    )
    profiles = profiles_of(project)
    acme = [p for p in profiles if p.connector.key == "acme_crm"]
    minor = 1
    done: Counter[str] = Counter()
    for step in range(120):
        rows = list(Connection.objects.filter(project=project).order_by("pk"))
        op = rng.choice(
            ["create"] * 4 + ["status", "delete", "bulk", "move", "health", "publish", "unpublish"]
        )
        if op == "create" or not rows:
            make_connection(rng.choice(profiles))
        elif op == "status":
            status = rng.choice([Status.ACTIVE, Status.DISABLED, Status.NEEDS_REAUTH])
            connection_set_status(actor=SYSTEM, connection=rng.choice(rows), status=status)
        elif op == "delete":
            connection_delete(actor=SYSTEM, connection=rng.choice(rows))
        elif op == "bulk":
            action = rng.choice(["disable", "enable", "delete", "needs_reauth"])
            chosen = rng.sample(rows, k=min(len(rows), rng.randint(1, 5)))
            connections_bulk(actor=SYSTEM, viewer=EVERYONE, connections=chosen, action=action)
        elif op == "move":
            on_acme = [c for c in rows if c.connector.key == "acme_crm"]
            if on_acme:
                reauthenticate(rng.choice(on_acme), rng.choice(acme))
        elif op == "health":
            health_result(rng.choice(rows), rng)  # also re-resolves the stored version
        elif op == "publish":
            minor += 1
            publish_version(project, f"1.{minor}.0")
        elif op == "unpublish":
            versions = list(
                ConnectorVersion.objects.filter(project=project, connector__key="acme_crm")
            )
            with contextlib.suppress(ConflictError):  # refused while a profile resolves to it
                connector_version_delete(actor=SYSTEM, version=rng.choice(versions))
                done["unpublished"] += 1
        done[op] += 1
        if step % 10 == 0:
            assert_counted(project)
    assert_counted(project)
    # Every kind of write ran, a version was deleted under some connections, some moved.
    assert min(done.values()) > 0 and len(done) == 9, done
    assert Connection.objects.filter(project=project, moved_from_profile__isnull=False).exists()
    assert ConnectionCount.objects.filter(project=project, n__gt=0).exists()


def test_deleting_a_version_moves_its_counts_to_unresolved() -> None:
    project = Project.objects.create(
        organization=make_organization(),
        slug="unpublished",
        name="U",
        immutable_versioning=False,
    )
    profile = make_profile(project)
    old = make_connection(profile)
    newer = publish_version(project, "1.1.0")
    make_connection(profile)  # on 1.1.0
    first = ConnectorVersion.objects.get(project=project, version="1.0.0")
    connector_version_delete(actor=SYSTEM, version=first)
    old.refresh_from_db()
    assert old.resolved_version_id is None
    assert counters.by_version(project.pk) == {0: 1, newer.pk: 1}
    # Both resolve to 1.1.0 now (the profile's pin); one last served from the deleted one.
    assert selectors.adoption(project) == [("1.1.0", 2, 1), ("unresolved", 0, 1)]
    assert_counted(project)


def test_a_write_past_the_counters_fails_and_changes_nothing(tenancy: Tenancy) -> None:
    profile = make_profile(tenancy.project)
    row = make_connection(profile)
    Connection.objects.filter(pk=row.pk).update(status=Status.ERROR)  # behind the services' back
    with pytest.raises(IntegrityError, match="connection_counts_repair"):
        connection_delete(actor=SYSTEM, connection=row)
    assert Connection.objects.filter(pk=row.pk).exists()
    with pytest.raises(IntegrityError), transaction.atomic():  # CHECK: never below zero
        ConnectionCount.objects.filter(profile=profile).update(n=-1)


def test_repair_command_recounts_from_the_rows(tenancy: Tenancy) -> None:
    profile = make_profile(tenancy.project)
    for _ in range(3):
        make_connection(profile)
    ConnectionCount.objects.all().delete()
    Connection.objects.filter(pk=make_connection(profile).pk).update(status=Status.ERROR)
    out = StringIO()
    call_command("connection_counts_repair", project=tenancy.project.slug, stdout=out)
    assert "2 corrected" in out.getvalue()  # (active: 3 vs 1) and (error: 1 vs none)
    assert counters.by_status(tenancy.project.pk) == {Status.ACTIVE: 3, Status.ERROR: 1}
    assert_counted(tenancy.project)
    out = StringIO()
    call_command("connection_counts_repair", stdout=out)
    assert "all correct" in out.getvalue()
    with pytest.raises(CommandError, match="No project"):
        call_command("connection_counts_repair", project="nope")


def _queries(client: Any, url: str, **headers: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, headers=headers)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def test_profile_counts_cost_the_same_queries_at_any_size(tenancy: Tenancy) -> None:
    project = tenancy.project
    profile = make_profile(project)
    make_connection(profile)
    _key, raw = make_api_key(project)
    api = tenancy.client("owner")
    pages = [
        (tenancy.client("owner"), reverse("profile_list", args=[project.slug]), {}),
        (tenancy.client("member"), reverse("profile_list", args=[project.slug]), {}),
        (
            tenancy.client("owner"),
            reverse("profile_detail", args=[project.slug, profile.public_id]),
            {},
        ),
        (api, "/api/v1/connector_profiles", {"Authorization": f"Bearer {raw}"}),
        (
            api,
            f"/api/v1/connector_profiles/{profile.public_id}",
            {"Authorization": f"Bearer {raw}"},
        ),
    ]
    for client, url, headers in pages:
        _queries(client, url, **headers)  # warm
    small = [_queries(c, u, **h) for c, u, h in pages]
    publish_version(project, "1.1.0")
    rows = [make_connection(profile) for _ in range(30)]
    for row, status in zip(rows, [Status.DISABLED, Status.NEEDS_REAUTH] * 5, strict=False):
        connection_set_status(actor=SYSTEM, connection=row, status=status)
    assert [_queries(c, u, **h) for c, u, h in pages] == small
    body = api.get("/api/v1/connector_profiles", headers={"Authorization": f"Bearer {raw}"})
    assert body.json()[0]["connection_count"] == 31


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_and_deletes_lose_no_count() -> None:
    project = Project.objects.create(
        organization=make_organization(),
        slug="racing",
        name="R",
    )
    profile = make_profile(project)
    doomed = [make_connection(profile) for _ in range(8)]
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            for i in range(6):
                make_connection(profile, f"racer-{n}-{i}")
                if n < 2 and i < 4:  # two threads delete four rows each meanwhile
                    connection_delete(actor=SYSTEM, connection=doomed[n * 4 + i])
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert Connection.objects.filter(project=project).count() == 8 + 24 - 8
    assert counters.on_profile(profile.pk) == 8 + 24 - 8
    assert_counted(project)


@pytest.mark.django_db(transaction=True)
def test_the_health_migration_recounts_both_ways(tenancy: Tenancy) -> None:
    """0011 adds health to the counters' key and rebuilds them from the rows; unapplied, it
    folds them back to one counter per (profile, version, status)."""
    from django.db import connection as db_connection
    from django.db.migrations.executor import MigrationExecutor

    profile = make_profile(tenancy.project)
    rows = [make_connection(profile, f"u{n}") for n in range(5)]
    update_connections(Connection.objects.filter(pk__in=[rows[0].pk, rows[1].pk]), health="healthy")
    update_connections(Connection.objects.filter(pk=rows[2].pk), health="needs_reauth")
    before = [("connections", "0010_connection_sort_last_used_checked")]
    after = MigrationExecutor(db_connection).loader.graph.leaf_nodes()  # the newest state
    try:
        executor = MigrationExecutor(db_connection)
        executor.migrate(before)
        old = MigrationExecutor(db_connection).loader.project_state(before).apps
        folded = old.get_model("connections", "ConnectionCount").objects.values_list("n", flat=True)
        assert sorted(folded) == [5]  # one counter: same profile, version and status
    finally:
        MigrationExecutor(db_connection).migrate(after)
    assert counters.stored() == counters.fresh()
    assert counters.total(tenancy.project.pk, health="healthy") == 2
