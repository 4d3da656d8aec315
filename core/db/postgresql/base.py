"""Django's PostgreSQL backend with timestamps read by psycopg's C loader.

Django reads every ``timestamptz`` through a Python loader (``psycopg_any.BaseTzLoader``) that
calls psycopg's C loader, then replaces the result's tzinfo with the connection's time zone: a
Python call per value, several times the C loader's own cost (0.58 ms more for the 150 dates of
a 50-row connections page; see tests/core/test_db_backend.py). When that time zone is UTC —
with ``USE_TZ`` and no ``TIME_ZONE`` for the database, as here — Django has set the session's
TimeZone to UTC (``ensure_timezone``), PostgreSQL sends ``+00`` and the C loader alone returns
the same instant with ``datetime.UTC`` as its tzinfo: this backend registers it on each cursor
after Django's own setup (a few µs per cursor). Any other time zone keeps Django's loader.

Per cursor, not per connection: Django's ``create_cursor`` reads a ``timezone`` attribute off
the connection's loader, which the C class has not (and it can't be subclassed).
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db.backends.postgresql import base
from django.db.backends.postgresql.psycopg_any import orig_tz_loader_cls


class DatabaseWrapper(base.DatabaseWrapper):
    def create_cursor(self, name: Any = None) -> Any:
        cursor = super().create_cursor(name)
        if self.timezone is datetime.UTC and self.timezone_name == "UTC":
            cursor.adapters.register_loader("timestamptz", orig_tz_loader_cls)
        return cursor
