"""core.db.postgresql: Django's PostgreSQL backend, with timestamps read by psycopg's C loader
when the connection's time zone is UTC (the values must be the ones Django's own loader gives:
the same instants, aware, with ``datetime.UTC``, through plain and named cursors), and no
prepared statement for a query that compares a partial index's column with a parameter."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import orig_tz_loader_cls

from connections.models import Connection
from tests.conftest import Tenancy
from tests.factories import make_connection, make_profile

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

INSTANTS = [
    datetime.datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=datetime.UTC),  # a DST change
    datetime.datetime(2026, 10, 25, 1, 0, 0, 1, tzinfo=datetime.UTC),
    datetime.datetime(
        1999, 12, 31, 23, 59, 59, tzinfo=datetime.timezone(datetime.timedelta(hours=-5))
    ),
    datetime.datetime(
        2026, 12, 2, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=5, minutes=30))
    ),
]


def _select(cursor_sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(cursor_sql, params)
        return cursor.fetchall()


def test_the_backend_is_in_use_and_reads_dates_with_the_c_loader() -> None:
    assert connection.settings_dict["ENGINE"] == "core.db.postgresql"
    with connection.cursor() as cursor:
        loader = cursor.cursor.adapters.get_loader(1184, 0)  # timestamptz, text
    assert loader is orig_tz_loader_cls


def test_dates_are_the_same_instants_in_utc() -> None:
    rows = _select(
        "SELECT %s::timestamptz, %s::timestamptz, %s::timestamptz, %s::timestamptz", INSTANTS
    )
    assert list(rows[0]) == INSTANTS  # the same instants …
    assert all(value.tzinfo is datetime.UTC for value in rows[0])  # … in UTC, as Django's


def test_a_null_and_model_fields_through_plain_and_named_cursors(tenancy: Tenancy) -> None:
    profile = make_profile(tenancy.project)
    made = [make_connection(profile) for _ in range(3)]
    expected = {c.pk: c.created_at for c in made}
    plain = dict(Connection.objects.values_list("pk", "created_at"))
    named = dict(Connection.objects.values_list("pk", "created_at").iterator(chunk_size=2))
    assert plain == named == expected
    assert all(v.tzinfo is datetime.UTC for v in [*plain.values(), *named.values()])
    assert _select("SELECT NULL::timestamptz", []) == [(None,)]


# --- Prepared statements -----------------------------------------------------------------------


def _prepared() -> list[str]:
    return [row[0] for row in _select("SELECT statement FROM pg_prepared_statements", [])]


def test_partial_index_columns_are_read_off_the_models() -> None:
    from core.db.postgresql.base import partial_index_columns

    columns = partial_index_columns()
    # conn_open_created: NOT (org_role = ''); django-tasks-db's READY index (kept aside).
    assert ("connections_connection", "org_role") in columns
    assert ("django_tasks_database_dbtaskresult", "status") in columns
    # A check constraint's condition is no index; IS NULL is written into the SQL itself.
    assert ("connections_connection", "status") not in columns
    assert ("events_event", "dispatched_at") not in columns


def test_a_statement_is_prepared_unless_it_compares_a_partial_index_column(
    tenancy: Tenancy,
) -> None:
    assert connection.settings_dict["OPTIONS"]["prepare_threshold"] == 5
    project = tenancy.project
    for _ in range(6):  # past the threshold
        list(Connection.objects.filter(project=project).values_list("pk")[:5])
        Connection.objects.filter(project=project).exclude(org_role="").count()
    prepared = _prepared()
    scoped = [s for s in prepared if '"org_role" = $' in s]
    plain = [s for s in prepared if "connections_connection" in s and "org_role" not in s]
    assert plain, prepared  # the plain read is prepared …
    assert scoped == []  # … the member scope's never: its plan must see the value
