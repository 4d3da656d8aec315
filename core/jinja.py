"""The Jinja2 environment of the hot tables' row templates (templates/jinja2/).

Strict: a misspelt name raises rather than rendering as nothing, so a test of the page fails.
Autoescaping is always on.
"""

from __future__ import annotations

from typing import Any

import jinja2


def environment(**options: Any) -> jinja2.Environment:
    options.pop("autoescape", None)  # always on, whatever the settings say
    options["undefined"] = jinja2.StrictUndefined
    return jinja2.Environment(autoescape=True, **options)
