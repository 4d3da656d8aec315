"""Django's PostgreSQL backend, with two changes that matter under load.

**Dates read by psycopg's C loader.** Django reads every ``timestamptz`` through a Python
loader (``psycopg_any.BaseTzLoader``) that calls psycopg's C loader, then replaces the result's
tzinfo with the connection's time zone: a Python call per value, several times the C loader's
own cost (0.58 ms more for the 150 dates of a 50-row connections page). When that time zone is
UTC — with ``USE_TZ`` and no ``TIME_ZONE`` for the database, as here — Django has set the
session's TimeZone to UTC (``ensure_timezone``), PostgreSQL sends ``+00`` and the C loader
alone returns the same instant with ``datetime.UTC``: this backend registers it on each cursor
after Django's own setup (a few µs per cursor; per cursor because Django's ``create_cursor``
reads a ``timezone`` attribute off the connection's loader, which the C class has not).

**No prepared statement where a generic plan can't use a partial index.** With server-side
binding and ``prepare_threshold`` (config/settings/base.py), psycopg prepares a statement
once a connection has run it that often, and PostgreSQL may then plan it once for any
parameters (a generic plan). A partial index whose condition compares a column with a value
(``conn_open_created``: ``NOT (org_role = '')``) is usable only when the planner sees that
value: a generic plan of ``… NOT ("org_role" = $2)`` can't prove the condition, and read a
member's first page three times slower than a fresh plan (bench/connections.py). Statements
that compare such a column with a parameter are therefore never prepared; the columns come
from the models' partial indexes and unique constraints (a condition on NULL or a boolean is
written into the SQL itself and needs no exception).

**Leans on** Django's backend internals (``psycopg_any.orig_tz_loader_cls``,
``base.ServerBindingCursor`` chosen as ``cursor_factory`` by ``get_connection_params()``,
``create_cursor(name)``, ``timezone`` / ``timezone_name``) and on two PostgreSQL behaviours (a
UTC session sends ``+00``; a generic plan can't use a partial index whose condition compares a
column with a parameter). **Justified by** bench/connections.py and bench/load.py: 0.58 ms
less per 50-row page for the dates; PostgreSQL's CPU per request 1.5 → 0.7 ms (list) and
2.4 → 0.8 ms (connection page) prepared; member ÷ owner 1.70 → 1.34 at 100k rows without the
unusable generic plans (git log: e5fabc7, 1b715c3, 5dfc94a). **Guarded by**
tests/core/test_upgrade_hooks.py (the Django hooks, by name) and tests/core/test_db_backend.py
(the PostgreSQL behaviours, on PostgreSQL).
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Iterator
from typing import Any

from django.apps import apps
from django.db.backends.postgresql import base
from django.db.backends.postgresql.psycopg_any import orig_tz_loader_cls
from django.db.models import Q, UniqueConstraint


def _leaves(condition: Any) -> Iterator[tuple[str, Any]]:
    for child in getattr(condition, "children", ()):
        if isinstance(child, Q):
            yield from _leaves(child)
        elif isinstance(child, tuple) and len(child) == 2:
            yield child


@functools.cache
def partial_index_columns() -> frozenset[tuple[str, str]]:
    """(table, column) of every partial index or unique constraint condition that compares a
    column with a value the query would pass as a parameter."""
    found: set[tuple[str, str]] = set()
    for model in apps.get_models():
        meta = model._meta
        unique = [c for c in meta.constraints if isinstance(c, UniqueConstraint)]
        for index in [*meta.indexes, *unique]:
            # django-tasks-db's ConditionalPartialIndex keeps its condition aside.
            condition = getattr(index, "condition", None) or getattr(
                index, "_partial_condition", None
            )
            for lookup, value in _leaves(condition):
                if value is None or isinstance(value, bool):
                    continue
                field = meta.get_field(lookup.split("__")[0])
                found.add((meta.db_table, str(field.column)))  # type: ignore[union-attr]
    return frozenset(found)


@functools.cache
def _unpreparable() -> re.Pattern[str] | None:
    columns = sorted(partial_index_columns())
    if not columns:
        return None
    names = "|".join(rf'"{re.escape(t)}"\."{re.escape(c)}"' for t, c in columns)
    # Django writes a comparison as `"table"."column" = %s` (or <>, <, >, IN (%s, …), = ANY(%s)).
    return re.compile(rf"(?:{names})\)? (?:=|<>|<|>|<=|>=|IN) (?:\(|ANY\()?%s")


@functools.lru_cache(maxsize=4096)
def preparable(query: str) -> bool:
    """Whether psycopg may prepare ``query``: decided once per statement text (the search
    costs ~17 µs on a 50-row page's statement, the cached answer well under 1 µs)."""
    pattern = _unpreparable()
    return pattern is None or pattern.search(query) is None


class ServerBindingCursor(base.ServerBindingCursor):
    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        if kwargs.get("prepare") is None and isinstance(query, str) and not preparable(query):
            kwargs["prepare"] = False
        return super().execute(query, params, **kwargs)  # type: ignore[misc]


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        if params.get("cursor_factory") is base.ServerBindingCursor:
            params["cursor_factory"] = ServerBindingCursor
        return params

    def create_cursor(self, name: Any = None) -> Any:
        cursor = super().create_cursor(name)
        if self.timezone is datetime.UTC and self.timezone_name == "UTC":
            cursor.adapters.register_loader("timestamptz", orig_tz_loader_cls)
        return cursor
