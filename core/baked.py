"""Hot querysets compiled once per process and shape ("baked"), then run with new values.

Django builds and compiles a queryset anew on every call. For a list page's query that is
~1 ms of CPU here, more than PostgreSQL takes to answer it (bench/connections.py). ``rows``
runs ``build(*values)`` the way ``list(queryset)`` would, but builds and compiles each shape
once per process: it builds the queryset with stand-in values of the same types, finds where
each stand-in lands among the compiled parameters, and afterwards sends the same SQL with the
real values in those places, through the connection's own cursor (so query logging and
counting see it), converting the rows with the compiler's own converters.

The rules that keep it exact:

- ``key`` names everything that shapes the query (which filters are present, the sort, the
  columns, the limit); ``build`` branches on nothing but the key. The values are only ever
  compared with ``=``, ``< >`` or ``ANY``: ints, strs, UUIDs, aware datetimes, lists of ints.
- A stand-in that the backend's preparation changes (a UUID on SQLite, say) or that lands in
  no parameter, two stand-ins in one parameter, or a value the query would not send as it is
  (None, a bool, an empty list): not baked, the queryset is built and run by the ORM, as
  always. A value used twice (a project in both parts of a UNION) lands in both places.
- The first real call of each shape also compiles the real queryset and compares its SQL and
  parameters with the baked ones; on a difference the shape is never baked again in this
  process (and a warning is logged). With ``VERIFY`` on (the tests) every call is compared,
  and a difference raises.
- Only ``values_list`` querysets (plain, ``flat`` or ``named``) are baked.

**Leans on Django's private query internals**: ``QuerySet._iterable_class`` and ``._fields``,
``django.db.models.query.{ValuesList,FlatValuesList,NamedValuesList}Iterable``,
``Query.extra_select/values_select/annotation_select``, ``SQLCompiler.as_sql()`` and
``SQLCompiler.results_iter(results=...)``, ``django.db.models.utils.create_namedtuple_class``.
**Justified by** bench/connections.py: the connections list's CPU × the bare view 3.04 → 2.36
(a member's 4.41 → 3.46), a connection page's 3.2 → 2.0 with the same 9 queries, the
counters' total 0.85 → 0.26 ms (git log: 3e833f6, f044d20, 2bda455). **Guarded by**
tests/core/test_upgrade_hooks.py (each hook, by name) and ``VERIFY`` under the tests (every
baked call compared with the ORM's own query).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connections
from django.db.models import QuerySet
from django.db.models.query import (
    FlatValuesListIterable,
    NamedValuesListIterable,
    ValuesListIterable,
)
from django.db.models.sql.compiler import SQLCompiler
from django.db.models.utils import create_namedtuple_class

# Compare every baked call with the ORM's own compilation, and fail on a difference (the tests
# turn this on: a ``build`` that branches on a value, not on its key, fails them).
VERIFY = False
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Shape:
    alias: str
    sql: str
    params: tuple[Any, ...]
    slots: tuple[tuple[int, int], ...]  # (parameter index, value index)
    compiler: SQLCompiler
    kind: str  # "tuple", "flat" or "named"
    tuple_class: type | None
    verified: bool


_shapes: dict[Hashable, _Shape | None] = {}
_lock = threading.Lock()
_UNSET = object()


def _bakeable(value: Any) -> bool:
    if type(value) in (int, str) or isinstance(value, uuid.UUID):
        return True
    if isinstance(value, datetime):
        return value.tzinfo is not None
    if isinstance(value, list):
        return bool(value) and all(type(v) is int for v in value)
    return False


def _stand_in(value: Any, n: int) -> Any:
    """A value of ``value``'s type that no real value equals (per call, per position). Ints
    are negative (no id is) and within a 32-bit column's range: Django drops a comparison with
    an integer its column cannot hold, and the stand-in would be lost."""
    mark = -1_900_000_000 - n * 104_729
    if type(value) is int:
        return mark
    if type(value) is str:
        return f"baked-stand-in-{n}-{uuid.uuid4().hex}"
    if isinstance(value, uuid.UUID):
        return uuid.uuid4()
    if isinstance(value, datetime):
        return datetime(1901, 2, 3, tzinfo=UTC) + timedelta(microseconds=mark % 10**9)
    return [mark - i for i in range(len(value))]


def _compiled(queryset: QuerySet[Any]) -> tuple[SQLCompiler, str, tuple[Any, ...]]:
    compiler = queryset.query.get_compiler(queryset.db)
    sql, params = compiler.as_sql()
    return compiler, sql, tuple(params)


def _kind(queryset: QuerySet[Any]) -> str | None:
    iterable = queryset._iterable_class
    if iterable is NamedValuesListIterable:
        return "named"
    if iterable is FlatValuesListIterable:
        return "flat"
    if iterable is ValuesListIterable:
        return "tuple"
    return None


def _bake(build: Callable[..., QuerySet[Any]], values: tuple[Any, ...]) -> _Shape | None:
    stand_ins = tuple(_stand_in(v, i) for i, v in enumerate(values))
    queryset = build(*stand_ins)
    kind = _kind(queryset)
    if kind is None:
        return None
    try:
        compiler, sql, params = _compiled(queryset)
    except (EmptyResultSet, FullResultSet):
        return None
    slots: list[tuple[int, int]] = []
    for index, param in enumerate(params):
        found = [i for i, s in enumerate(stand_ins) if type(param) is type(s) and param == s]
        if len(found) > 1:
            return None
        if found:
            slots.append((index, found[0]))
    if {i for _p, i in slots} != set(range(len(values))):  # every value lands somewhere
        return None
    tuple_class = None
    if kind == "named":
        query = queryset.query
        names = getattr(queryset, "_fields", None) or (
            *query.extra_select,
            *query.values_select,
            *query.annotation_select,
        )
        tuple_class = create_namedtuple_class(*names)
    return _Shape(queryset.db, sql, params, tuple(slots), compiler, kind, tuple_class, False)


def _params(shape: _Shape, values: tuple[Any, ...]) -> list[Any]:
    params = list(shape.params)
    for index, value_index in shape.slots:
        value = values[value_index]
        params[index] = list(value) if isinstance(value, list) else value
    return params


def rows(key: Hashable, build: Callable[..., QuerySet[Any]], *values: Any) -> list[Any]:
    """``list(build(*values))``, with the shape ``key`` built and compiled once per process."""
    if not all(_bakeable(v) for v in values):
        return list(build(*values))
    shape = _shapes.get(key, _UNSET)
    if shape is _UNSET:
        shape = _bake(build, values)
        with _lock:
            _shapes[key] = shape
    if shape is None:
        return list(build(*values))
    assert isinstance(shape, _Shape)
    params = _params(shape, values)
    if VERIFY or not shape.verified:
        try:
            _compiler, sql, real = _compiled(build(*values))
        except (EmptyResultSet, FullResultSet):
            sql, real = "", ()
        if sql != shape.sql or list(real) != params:
            if VERIFY:
                raise AssertionError(f"baked shape {key!r} differs from the ORM's query: {sql}")
            logger.warning("Baked query %r differs from the ORM's; not baked again", key)
            with _lock:
                _shapes[key] = None
            return list(build(*values))
        if not shape.verified:
            with _lock:
                _shapes[key] = shape = replace(shape, verified=True)
    with connections[shape.alias].cursor() as cursor:
        cursor.execute(shape.sql, params)
        fetched = cursor.fetchall()
    converted = shape.compiler.results_iter(results=[fetched])
    if shape.kind == "flat":
        return [row[0] for row in converted]
    if shape.kind == "named":
        new, tuple_class = tuple.__new__, shape.tuple_class
        return [new(tuple_class, row) for row in converted]  # type: ignore[arg-type]
    return [tuple(row) for row in converted]


def forget() -> None:
    """Drop every baked shape (tests that change the schema or the database alias)."""
    with _lock:
        _shapes.clear()
