"""``AnyOf(F("pk"), ids)``: ``pk IN ids`` written for long lists of ids.

Django's ``__in`` makes one placeholder and one prepared parameter per value, so a few
thousand inlined ids cost milliseconds of Python on every query that carries them (a member's
granted connections, bench/connections.py). On PostgreSQL this sends them as one array
parameter (``= ANY(%s)``, which the planner treats as the IN list); elsewhere it is ``IN``.
Use it as a filter expression: ``rows.filter(AnyOf(F("pk"), ids))``.

``IsBlank(F("org_role"))``: ``org_role = ''``, with the empty string written into the SQL
rather than sent as a parameter (``~IsBlank(...)``: ``NOT (org_role = '')``). PostgreSQL
prepares a statement run often on a connection (core/db/postgresql/base.py), and a prepared
statement's generic plan can use a partial index whose condition is ``NOT (org_role = '')``
only when the query names the same constant, not a parameter.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db.models.lookups import In, Lookup


class AnyOf(In):
    lookup_name = "any_of"

    def get_prep_lookup(self) -> Any:
        # Ids read from the database are ints already: no preparation value by value (In's
        # costs ~0.2 ms for 600 ids); anything else is prepared as In prepares it.
        if isinstance(self.rhs, list | tuple) and all(type(v) is int for v in self.rhs):
            return self.rhs
        return super().get_prep_lookup()

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, Any]:
        if connection.vendor != "postgresql":
            return super().as_sql(compiler, connection)
        values = [int(value) for value in self.rhs if value is not None]
        if not values:
            raise EmptyResultSet
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s::bigint[])", (*lhs_params, values)


class IsBlank(Lookup):
    lookup_name = "isblank"
    prepare_rhs = False

    def __init__(self, lhs: Any) -> None:
        super().__init__(lhs, True)

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, Any]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ''", lhs_params
