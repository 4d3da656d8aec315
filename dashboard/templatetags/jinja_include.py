"""``{% jinja_include "name.html" values %}``: the one way a Django page includes a Jinja2
template (templates/jinja2/, the hot content: the connections list, the connection page's
overview). The view prepares ``values`` (a dict, everything the template reads: the Jinja2
environment is strict); the template is rendered by the Jinja2 backend, which escapes every
value (core/jinja.py), so its output is inserted as it is. No request is passed: a view that
renders forms puts ``csrf_input`` (core.jinja.csrf_input, the token read once) in ``values``.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.template import engines
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag
def jinja_include(name: str, values: dict[str, Any]) -> SafeString:
    """The tag; Python callers (the link panel's tag, inserted in the overview) call it too."""
    html = engines["jinja2"].get_template(name).render(values)
    return SafeString(html)  # escaped by the Jinja2 environment (autoescape always on)


@register.simple_tag
def jinja_macro(name: str, *args: Any) -> SafeString:
    """``{% jinja_macro "pager" prev_href next_href ... %}``: a macro of
    templates/jinja2/includes/macros.html, the one implementation of the small includes
    (messages, sort bar and header, pager, empty state) that Django pages and the Jinja2
    content share; templates/includes/ holds the Django side's one-line wrappers."""
    module = engines["jinja2"].env.get_template("includes/macros.html").module  # type: ignore[attr-defined]
    return SafeString(str(getattr(module, name)(*args)))
