"""One keyset pager for every long table: the connections list, a migration's pending
accounts, the versions API.

A page is the ``limit`` rows after (or before) a cursor in the order of one sort column with
the primary key as tie-breaker, so its cost does not grow with how deep it is (no OFFSET).
A NULLable column sorts as COALESCE(column, a fixed value) (``sort_key``), so that an index on
that expression serves its pages as a plain column's index does.
A cursor is the (sort column, sort value, pk) of a page's last or first row, as URL-safe
base64 JSON: it says nothing a reader may not see, a cursor of another sort or a tampered one
is refused, never trusted.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from django.db import connections
from django.db.models import F, Model, Q, QuerySet, Value
from django.db.models.expressions import OrderBy
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual, LessThan, LessThanOrEqual
from django.http import QueryDict
from django.utils.dateparse import parse_datetime

CURSOR_PARAMS = ("after", "before")
# What a NULL date sorts as: older than any real one ("never" is last newest first).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class InvalidCursor(ValueError):
    """The cursor was not made by ``encode_cursor`` for this sort column."""


def sort_key(field: str, nulls_as: Any = None) -> F | Coalesce:
    """What an order sorts on: the column, or COALESCE(column, ``nulls_as``) for a NULLable
    one. An index serving the order is declared on this same expression."""
    if nulls_as is None:
        return F(field)
    return Coalesce(F(field), Value(nulls_as))


@dataclass(frozen=True)
class KeysetOrder:
    """The sort column, its direction, the kind of its values (``datetime`` or ``str``) and,
    for a NULLable column, the value its NULLs sort as (``nulls_as``, e.g. ``EPOCH``)."""

    field: str
    descending: bool = True
    kind: type = datetime
    nulls_as: Any = None

    def reversed(self) -> KeysetOrder:
        return replace(self, descending=not self.descending)

    def key(self) -> F | Coalesce:
        return sort_key(self.field, self.nulls_as)

    def value_of(self, row: Model) -> Any:
        """``row``'s sort value (what ``key`` is on that row)."""
        value = getattr(row, self.field)
        return self.nulls_as if value is None else value

    def order_by(self) -> tuple[OrderBy, OrderBy]:
        if self.descending:
            return self.key().desc(), F("id").desc()
        return self.key().asc(), F("id").asc()

    def after(self, value: Any, pk: int) -> Q:
        """Rows strictly after (value, pk) in this order, written so that the first condition
        is an index range on the sort key."""
        key = self.key()
        if self.descending:
            return Q(LessThanOrEqual(key, value)) & (Q(LessThan(key, value)) | Q(id__lt=pk))
        return Q(GreaterThanOrEqual(key, value)) & (Q(GreaterThan(key, value)) | Q(id__gt=pk))


@dataclass
class Page[T: Model]:
    items: list[T]
    next: str | None
    prev: str | None

    def links(self, query: QueryDict, *, base: str = "") -> tuple[str, str]:
        """(previous, next) hrefs: ``base`` with the query string (cursors dropped) and the
        page's cursor; "" where there is no such page."""
        encoded = without_cursors(query)
        head = f"{base}?{encoded}&" if encoded else f"{base}?"
        return (
            f"{head}before={self.prev}" if self.prev else "",
            f"{head}after={self.next}" if self.next else "",
        )


def without_cursors(query: QueryDict) -> str:
    """The query string of a table's filters and sort, without its page cursor."""
    kept = query.copy()
    for name in CURSOR_PARAMS:
        kept.pop(name, None)
    return kept.urlencode()


def encode_cursor(row: Model, order: KeysetOrder) -> str:
    value = order.value_of(row)
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([order.field, value, row.pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, order: KeysetOrder) -> tuple[Any, int]:
    """The (sort value, pk) of a cursor ``encode_cursor`` made for ``order``'s column."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        field, value, pk = json.loads(raw)
        if field != order.field or not isinstance(pk, int) or isinstance(pk, bool):
            raise ValueError
        if order.kind is datetime:
            value = parse_datetime(value) if isinstance(value, str) else None
            if value is None or value.tzinfo is None:  # encode_cursor writes aware values
                raise ValueError
        elif not isinstance(value, order.kind):
            raise ValueError
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise InvalidCursor(cursor) from exc
    return value, pk


type Part[T: Model] = QuerySet[T] | list[T]


def _head[T: Model](part: Part[T], order: KeysetOrder, n: int) -> list[T]:
    if isinstance(part, list):  # read by the caller, in ``order``
        return part[:n]
    return list(part.order_by(*order.order_by())[:n])


def _first[T: Model](parts: Sequence[Part[T]], order: KeysetOrder, n: int) -> list[T]:
    """The first ``n`` rows of the union of disjoint ``parts`` in ``order``: each part's own
    first ``n`` (one ordered index scan each), merged. Only for datetime sorts, whose order is
    the same in Python as in the database (a text collation may not be)."""
    if len(parts) == 1:
        return _head(parts[0], order, n)
    if order.kind is not datetime:
        raise ValueError("parts are merged for datetime sorts only")
    found = [row for part in parts for row in _head(part, order, n)]
    found.sort(key=lambda row: (order.value_of(row), row.pk), reverse=order.descending)
    return found[:n]


def keyset_page[T: Model](
    rows: QuerySet[T] | Sequence[Part[T]],
    order: KeysetOrder,
    *,
    after: str = "",
    before: str = "",
    limit: int,
) -> Page[T]:
    """One page of ``rows`` in ``order``: the first page, the one after the cursor ``after``,
    or the one before ``before``. Raises ``InvalidCursor`` for a cursor it did not make.

    ``rows`` may be a sequence of disjoint parts (a member's connections: those open to the
    organization and those granted), each read through an index of its own and merged. On the
    first page a part may be given as its first ``limit + 1`` rows, already read in ``order``
    (a list: the caller read them with something more, such as their count)."""
    parts = [rows] if isinstance(rows, QuerySet) else list(rows)
    if (after or before) and any(isinstance(part, list) for part in parts):
        raise ValueError("a part read in advance serves the first page only")
    if before:
        value, pk = decode_cursor(before, order)
        backwards = order.reversed()
        found = _first(
            [p.filter(backwards.after(value, pk)) for p in parts if isinstance(p, QuerySet)],
            backwards,
            limit + 1,
        )
        items = list(reversed(found[:limit]))
        return Page(
            items,
            next=encode_cursor(items[-1], order) if items else None,
            prev=encode_cursor(items[0], order) if items and len(found) > limit else None,
        )
    if after:
        value, pk = decode_cursor(after, order)
        parts = [p.filter(order.after(value, pk)) for p in parts if isinstance(p, QuerySet)]
    found = _first(parts, order, limit + 1)
    items = found[:limit]
    return Page(
        items,
        next=encode_cursor(items[-1], order) if len(found) > limit else None,
        prev=encode_cursor(items[0], order) if after and items else None,
    )


def planner_estimate(queryset: QuerySet[Any]) -> int | None:
    """The database planner's row estimate for ``queryset`` (PostgreSQL's EXPLAIN: no rows are
    read), or None where the database gives none (SQLite)."""
    if connections[queryset.db].vendor != "postgresql":
        return None
    plan = json.loads(queryset.order_by().values("pk").explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])
