"""The Jinja2 environment of the hot templates (templates/jinja2/): the connections list's rows
and the connection page's overview.

Strict: a misspelt name raises rather than rendering as nothing, so a test of the page fails.
Autoescaping is always on. Two helpers mirror the Django tags those templates need: ``url``
(``{% url %}``: ``url("name", arg, ...)``) and the ``date`` filter (Django's ``|date`` format
characters, in the active time zone).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jinja2
from django.urls import reverse
from django.utils import dateformat, timezone


def url(name: str, *args: Any) -> str:
    return reverse(name, args=args)


def date(value: datetime | None, format_string: str) -> str:
    """Django's ``|date:"<format>"`` of an aware datetime in the current time zone; "" for
    None (so that ``or "never"`` reads like ``|default:"never"``)."""
    if value is None:
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return dateformat.format(value, format_string)


def environment(**options: Any) -> jinja2.Environment:
    options.pop("autoescape", None)  # always on, whatever the settings say
    options["undefined"] = jinja2.StrictUndefined
    env = jinja2.Environment(autoescape=True, **options)
    env.globals["url"] = url
    env.filters["date"] = date
    return env
