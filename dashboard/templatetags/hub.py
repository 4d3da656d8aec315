import json
from typing import Any

from django import template

register = template.Library()


@register.filter
def as_json(value: Any) -> str:
    """Structured values as compact JSON (as in the definition), scalars as they are."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return "null" if value is None else str(value)


@register.filter
def http_url(value: Any) -> str:
    """The value if it is an http(s) URL, else "" (never a javascript: or data: link)."""
    text = str(value or "")
    return text if text.lower().startswith(("https://", "http://")) else ""


@register.filter
def changes(value: Any) -> str:
    """Render an audit before/after dict as ``key: value, …`` (– when empty)."""
    if value in (None, {}, ""):
        return "–"
    if isinstance(value, dict):
        return ", ".join(f"{key}: {val}" for key, val in value.items())
    return str(value)
