"""Connection counts that cost the same at a thousand rows and at ten million.

``ConnectionCount`` holds one row per (profile, resolved version, status, health) with how
many connections are in that state. Every write that creates, deletes, moves a connection to
another profile, or changes its status, health or resolved version tells this module, in its
own transaction::

    counters.added(connection)                 # created (or counters.added(*rows))
    counters.removed(connection)               # about to be deleted, or deleted
    before = counters.key_of(connection)       # before changing profile/status/version...
    counters.changed(before, connection)       # ...and after saving it

Each counter changes in one statement, ``INSERT ... ON CONFLICT DO UPDATE SET n = n + k``
(PostgreSQL and SQLite) or ``UPDATE ... SET n = n - k``: no read-modify-write, so concurrent
writers never lose a count, and the keys are written in one order so that two transactions
never wait for each other in a circle. A count never goes below zero (a CHECK
constraint) and a decrement needs its counter: a write the counters did not see fails loudly
instead of drifting. ``recount`` (the ``connection_counts_repair`` command) rebuilds
them from the rows.

**Leans on** the database's upsert, ``INSERT ... ON CONFLICT (profile_id, version_pk, status,
health) DO UPDATE`` (PostgreSQL; SQLite 3.24+), whose conflict target is the model's unique
constraint, and on PostgreSQL's ``LOCK TABLE ... IN EXCLUSIVE MODE`` for ``recount``.
**Justified by** bench/connections.py (the profiles page and ``GET /connector_profiles``: the
same cost at any number of connections; query counts tested flat with the data) and the
baked ``total`` (0.85 → 0.26 ms, git log 2bda455). **Guarded by**
tests/core/test_upgrade_hooks.py (the upsert's version and conflict target) and
tests/connections/test_counters.py (a random sequence of writes equals a fresh COUNT, on
SQLite and PostgreSQL; concurrent writers lose nothing). django-pgtrigger was considered and
not taken: triggers are PostgreSQL-only and SQLite is a supported database (the demo, the
default tests), so the counts would need two implementations kept equal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import NamedTuple
from uuid import UUID

from django.db import IntegrityError, transaction
from django.db import connection as db
from django.db.models import Count, F, QuerySet, Sum

from connectors.models import ConnectorVersion
from core import baked

from .models import Connection, ConnectionCount


class Key(NamedTuple):
    """What a connection is counted under (ordered by the counter's unique key)."""

    profile_id: int
    version_pk: int  # 0: no resolved version
    status: str
    health: str
    project_id: int
    connector_id: int


def key_of(connection: Connection) -> Key:
    return Key(
        connection.profile_id,
        connection.resolved_version_id or 0,
        connection.status,
        connection.health,
        connection.project_id,
        connection.connector_id,
    )


def added(*connections: Connection) -> None:
    """Count new connections (after they are saved)."""
    apply(_tally(connections, +1))


def removed(*connections: Connection) -> None:
    """Stop counting connections that are deleted (in the deleting transaction)."""
    apply(_tally(connections, -1))


def changed(before: Key, connection: Connection) -> None:
    """The connection moved from ``before`` (its ``key_of`` before the change) to its state
    now: nothing to do when neither profile, status, health nor resolved version changed."""
    after = key_of(connection)
    if after != before:
        apply({before: -1, after: +1})


def _tally(connections: Iterable[Connection], sign: int) -> dict[Key, int]:
    deltas: dict[Key, int] = defaultdict(int)
    for row in connections:
        deltas[key_of(row)] += sign
    return deltas


def apply(deltas: Mapping[Key, int]) -> None:
    """Add each delta to its counter, one statement per counter, in the key's order."""
    for key, n in sorted(deltas.items()):
        if n > 0:
            _increment(key, n)
        elif n < 0:
            _decrement(key, -n)


def _increment(key: Key, n: int) -> None:
    """``n`` more: an upsert (the row is created on first use)."""
    table = db.ops.quote_name(ConnectionCount._meta.db_table)
    with db.cursor() as cursor:
        cursor.execute(  # the table's own name and placeholders only: no input in the SQL
            f"INSERT INTO {table} AS c "  # noqa: S608
            "(project_id, connector_id, profile_id, version_pk, status, health, n) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (profile_id, version_pk, status, health) "
            "DO UPDATE SET n = c.n + excluded.n",
            [
                key.project_id,
                key.connector_id,
                key.profile_id,
                key.version_pk,
                key.status,
                key.health,
                n,
            ],
        )


def _decrement(key: Key, n: int) -> None:
    """``n`` fewer (the CHECK constraint refuses a count below zero; so does a counter that is
    missing: either means a write went past this module)."""
    updated = ConnectionCount.objects.filter(
        profile_id=key.profile_id, version_pk=key.version_pk, status=key.status, health=key.health
    ).update(n=F("n") - n)
    if not updated:
        raise IntegrityError(
            f"No connection counter for {key}: a write did not go through connections.counters "
            "(run manage.py connection_counts_repair)."
        )


def version_deleting(version: ConnectorVersion) -> None:
    """Before a published version is deleted (``services.versions.connector_version_delete``):
    the connections resolved to the version become unresolved (the delete sets their foreign
    key to NULL), so their counts move to version 0 in the deleting transaction."""
    version_id = version.pk
    deltas: dict[Key, int] = defaultdict(int)
    rows = ConnectionCount.objects.filter(version_pk=version_id, n__gt=0).values_list(
        "profile_id", "status", "health", "project_id", "connector_id", "n"
    )
    for profile_id, status, health, project_id, connector_id, n in rows:
        deltas[Key(profile_id, version_id, status, health, project_id, connector_id)] -= n
        deltas[Key(profile_id, 0, status, health, project_id, connector_id)] += n
    apply(deltas)


# --- Reads: a handful of rows per profile, whatever the number of connections -----------------


def by_profile(project_id: int) -> dict[int, int]:
    """Connections per profile of the project (profiles without any absent)."""
    rows = (
        ConnectionCount.objects.filter(project_id=project_id, n__gt=0)
        .values_list("profile_id")
        .annotate(total=Sum("n"))
        .values_list("profile_id", "total")
    )
    return dict(rows)


def on_profile(profile_id: int) -> int:
    total = ConnectionCount.objects.filter(profile_id=profile_id).aggregate(total=Sum("n"))
    return int(total["total"] or 0)


def _counted(
    project_id: int, connector_id: int | None, profile_id: int | None
) -> QuerySet[ConnectionCount]:
    rows = ConnectionCount.objects.filter(project_id=project_id, n__gt=0)
    if connector_id is not None:
        rows = rows.filter(connector_id=connector_id)
    if profile_id is not None:
        rows = rows.filter(profile_id=profile_id)
    return rows


def by_version(
    project_id: int, *, connector_id: int | None = None, profile_id: int | None = None
) -> dict[int, int]:
    """Connections per resolved version id (0: unresolved)."""
    rows = _counted(project_id, connector_id, profile_id)
    return dict(
        rows.values_list("version_pk").annotate(total=Sum("n")).values_list("version_pk", "total")
    )


def by_profile_and_version(
    project_id: int, *, connector_id: int | None = None, profile_id: int | None = None
) -> list[tuple[int, int, int]]:
    """(profile id, resolved version id (0: unresolved), connections) of the project."""
    return list(
        _counted(project_id, connector_id, profile_id)
        .values_list("profile_id", "version_pk")
        .annotate(total=Sum("n"))
        .values_list("profile_id", "version_pk", "total")
    )


def total(
    project_id: int,
    *,
    connector_key: str = "",
    profile_public_id: UUID | None = None,
    status: str = "",
    health: str = "",
    version_number: str = "",
) -> int:
    """How many connections of the project match these (all optional) conditions: one sum
    over the project's counters (a query baked per combination of conditions, core.baked)."""
    given = {
        "connector__key": connector_key or None,
        "profile__public_id": profile_public_id,
        "status": status or None,
        "health": health or None,
        "version_pk__in": version_number or None,
    }
    names = tuple(name for name, value in given.items() if value is not None)

    def build(project_id: int, *values: object) -> QuerySet[ConnectionCount, int]:
        conditions = dict(zip(names, values, strict=True))
        if "version_pk__in" in conditions:
            numbered = ConnectorVersion.objects.filter(version=conditions["version_pk__in"])
            conditions["version_pk__in"] = numbered.values("pk")
        rows = ConnectionCount.objects.filter(project_id=project_id, **conditions)
        return rows.values("project_id").annotate(total=Sum("n")).values_list("total", flat=True)

    found = baked.rows(("counters.total", names), build, project_id, *(given[n] for n in names))
    return int(found[0] or 0) if found else 0


def by_status(project_id: int, *, profile_id: int | None = None) -> dict[str, int]:
    rows = ConnectionCount.objects.filter(project_id=project_id, n__gt=0)
    if profile_id is not None:
        rows = rows.filter(profile_id=profile_id)
    return dict(rows.values_list("status").annotate(total=Sum("n")).values_list("status", "total"))


def by_status_and_health(project_id: int) -> list[tuple[str, str, int]]:
    """(status, health, connections) of the project: the overview's figures."""
    rows = ConnectionCount.objects.filter(project_id=project_id, n__gt=0)
    return list(
        rows.values_list("status", "health")
        .annotate(total=Sum("n"))
        .values_list("status", "health", "total")
    )


# --- Repair ------------------------------------------------------------------------------------


def fresh(project_id: int | None = None) -> dict[Key, int]:
    """The counts as a COUNT over the rows would give them now."""
    rows = Connection.objects.order_by()
    if project_id is not None:
        rows = rows.filter(project_id=project_id)
    groups = rows.values_list(
        "profile_id", "resolved_version_id", "status", "health", "project_id", "connector_id"
    ).annotate(n=Count("pk"))
    return {
        Key(profile_id, version_id or 0, status, health, project_id_, connector_id): n
        for profile_id, version_id, status, health, project_id_, connector_id, n in groups
    }


def stored(project_id: int | None = None) -> dict[Key, int]:
    """The counters as stored (zero rows left out)."""
    rows = ConnectionCount.objects.filter(n__gt=0)
    if project_id is not None:
        rows = rows.filter(project_id=project_id)
    return {
        Key(r.profile_id, r.version_pk, r.status, r.health, r.project_id, r.connector_id): r.n
        for r in rows
    }


@transaction.atomic
def recount(project_id: int | None = None) -> int:
    """Rebuild the counters from the rows (of one project, or all); returns how many counters
    were wrong. On PostgreSQL the counter table is locked against writes meanwhile, so a
    connection written concurrently is counted exactly once."""
    if db.vendor == "postgresql":
        table = db.ops.quote_name(ConnectionCount._meta.db_table)
        with db.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
    want, have = fresh(project_id), stored(project_id)
    wrong = {k for k in want.keys() | have.keys() if want.get(k, 0) != have.get(k, 0)}
    if wrong:
        rows = ConnectionCount.objects.all()
        if project_id is not None:
            rows = rows.filter(project_id=project_id)
        rows.delete()
        ConnectionCount.objects.bulk_create(
            (
                ConnectionCount(
                    project_id=k.project_id,
                    connector_id=k.connector_id,
                    profile_id=k.profile_id,
                    version_pk=k.version_pk,
                    status=k.status,
                    health=k.health,
                    n=n,
                )
                for k, n in sorted(want.items())
            ),
            batch_size=1000,
        )
    return len(wrong)
