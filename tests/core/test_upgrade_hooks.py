"""The inventions that lean on a library's internals or on a database's behaviour, each held to
what it leans on: an upgrade that changes a hook fails here, with a message naming the hook and
the benchmark to re-run, before it fails (or silently slows down) somewhere else.

core.baked, core.db.postgresql, core.jinja, core.freshness and connections.counters say the
same at their top. Their behaviour is tested beside them (test_baked.py, test_db_backend.py,
test_jinja.py, tests/ops/test_freshness.py, tests/connections/test_counters.py).
"""

from __future__ import annotations

import inspect
import sqlite3
from typing import Any

import pytest
from django.db import connection


def leans(module: str, hook: str, bench: str) -> str:
    return f"{module} leans on {hook}; the upgrade changed it: re-check {bench}"


def parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


# --- core.baked: Django's query internals ---------------------------------------------------------

BAKED = "bench/connections.py (the list's first page, the connection page)"


@pytest.mark.django_db
def test_core_baked_hooks() -> None:
    from django.db.models import query as query_module
    from django.db.models.sql.compiler import SQLCompiler
    from django.db.models.utils import create_namedtuple_class

    from connections.models import Connection

    for name in ("ValuesListIterable", "FlatValuesListIterable", "NamedValuesListIterable"):
        assert hasattr(query_module, name), leans(
            "core.baked", f"django.db.models.query.{name}", BAKED
        )
    flat = Connection.objects.values_list("pk", flat=True)
    named = Connection.objects.values_list("pk", "name", named=True)
    assert flat._iterable_class is query_module.FlatValuesListIterable, leans(
        "core.baked", "QuerySet._iterable_class", BAKED
    )
    assert named._iterable_class is query_module.NamedValuesListIterable, leans(
        "core.baked", "QuerySet._iterable_class", BAKED
    )
    assert getattr(named, "_fields", None) == ("pk", "name"), leans(
        "core.baked", "QuerySet._fields", BAKED
    )
    for attribute in ("extra_select", "values_select", "annotation_select"):
        assert hasattr(named.query, attribute), leans(
            "core.baked", f"django.db.models.sql.Query.{attribute}", BAKED
        )
    assert parameters(SQLCompiler.results_iter)[:2] == ["self", "results"], leans(
        "core.baked", "SQLCompiler.results_iter(results=...)", BAKED
    )
    sql, params = flat.filter(pk=7).query.get_compiler(flat.db).as_sql()
    assert isinstance(sql, str) and list(params) == [7], leans(
        "core.baked", "SQLCompiler.as_sql() -> (sql, params)", BAKED
    )
    assert create_namedtuple_class("a", "b")._fields == ("a", "b"), leans(
        "core.baked", "django.db.models.utils.create_namedtuple_class", BAKED
    )


# --- core.db.postgresql: Django's PostgreSQL backend ----------------------------------------------

BACKEND = "bench/connections.py and bench/load.py on PostgreSQL (dates, prepared statements)"


def test_core_db_postgresql_hooks() -> None:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.backends.postgresql import base, psycopg_any

    assert hasattr(psycopg_any, "orig_tz_loader_cls"), leans(
        "core.db.postgresql",
        "django.db.backends.postgresql.psycopg_any.orig_tz_loader_cls",
        BACKEND,
    )
    assert isinstance(getattr(base, "ServerBindingCursor", None), type), leans(
        "core.db.postgresql", "django.db.backends.postgresql.base.ServerBindingCursor", BACKEND
    )
    assert parameters(base.DatabaseWrapper.create_cursor) == ["self", "name"], leans(
        "core.db.postgresql", "DatabaseWrapper.create_cursor(name)", BACKEND
    )
    assert parameters(base.DatabaseWrapper.get_connection_params) == ["self"], leans(
        "core.db.postgresql", "DatabaseWrapper.get_connection_params()", BACKEND
    )
    for attribute in ("timezone", "timezone_name"):
        assert hasattr(BaseDatabaseWrapper, attribute), leans(
            "core.db.postgresql", f"BaseDatabaseWrapper.{attribute}", BACKEND
        )
    source = inspect.getsource(base.DatabaseWrapper.get_connection_params)
    assert '"cursor_factory"' in source and "ServerBindingCursor" in source, leans(
        "core.db.postgresql",
        "get_connection_params() choosing ServerBindingCursor as cursor_factory",
        BACKEND,
    )


# --- core.jinja: Jinja2's code generator and markupsafe ---------------------------------------------

JINJA = "bench/connections.py (the list's rows: 1,150 values a page)"


def test_core_jinja_hooks() -> None:
    import markupsafe
    from jinja2.compiler import CodeGenerator

    from core.jinja import environment, escape_output

    assert parameters(CodeGenerator._output_child_pre) == ["self", "node", "frame", "finalize"], (
        leans("core.jinja", "jinja2.compiler.CodeGenerator._output_child_pre", JINJA)
    )
    assert CodeGenerator._FinalizeInfo._fields == ("const", "src"), leans(
        "core.jinja", "CodeGenerator._FinalizeInfo(const, src)", JINJA
    )
    assert callable(getattr(markupsafe, "_escape_inner", None)), leans(
        "core.jinja",
        "markupsafe._escape_inner (its C escaping; without it every value pays a Markup)",
        JINJA,
    )
    code = environment().compile("{{ value }}", raw=True)
    assert "environment.escape_output(" in code, leans(
        "core.jinja", "the generated code of {{ value }} (CodeGenerator._output_child_pre)", JINJA
    )
    hostile = "<a href='x'>&\""
    assert escape_output(hostile) == str(markupsafe.escape(hostile))


# --- core.freshness: the cache contract of its generation store ------------------------------------

FRESHNESS = "bench/resolution.py (process layer over Redis, per-request epoch check)"


def test_core_freshness_hooks() -> None:
    from django.core.signals import request_finished, request_started

    from core import freshness

    store = freshness.generation_store()
    key = "upgrade-hook-probe"
    store.delete(key)
    with pytest.raises(ValueError):
        store.incr(key)  # freshness._incr seeds a missing number on this ValueError
    assert store.add(key, 5, timeout=None) is True, leans(
        "core.freshness", "BaseCache.add() -> True when it stored", FRESHNESS
    )
    assert store.add(key, 6, timeout=None) is False, leans(
        "core.freshness",
        "BaseCache.add() -> False when the key exists (first seeder wins)",
        FRESHNESS,
    )
    assert store.incr(key) == 6
    store.delete(key)
    receivers = {r[1]() for r in request_started.receivers} | {
        r[1]() for r in request_finished.receivers
    }
    assert {freshness.request_began, freshness.request_ended} <= receivers, leans(
        "core.freshness", "django.core.signals.request_started / request_finished", FRESHNESS
    )


# --- connections.counters: the database's upsert ----------------------------------------------------

COUNTERS = "bench/connections.py (profiles page, API /connector_profiles: flat with the data)"


def test_connections_counters_hooks() -> None:
    from django.db.models import UniqueConstraint

    from connections.models import ConnectionCount

    if connection.vendor == "sqlite":
        assert sqlite3.sqlite_version_info >= (3, 24), leans(
            "connections.counters", "SQLite's INSERT ... ON CONFLICT DO UPDATE (3.24+)", COUNTERS
        )
    unique = {
        tuple(c.fields)
        for c in ConnectionCount._meta.constraints
        if isinstance(c, UniqueConstraint) and c.fields
    }
    assert ("profile_id", "version_pk", "status", "health") in unique or (
        "profile",
        "version_pk",
        "status",
        "health",
    ) in unique, leans(
        "connections.counters",
        "a unique constraint on (profile, version_pk, status, health): the ON CONFLICT target",
        COUNTERS,
    )
