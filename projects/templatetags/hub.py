from typing import Any

from django import template

register = template.Library()


@register.filter
def changes(value: Any) -> str:
    """Render an audit before/after dict as ``key: value, …`` (– when empty)."""
    if value in (None, {}, ""):
        return "–"
    if isinstance(value, dict):
        return ", ".join(f"{key}: {val}" for key, val in value.items())
    return str(value)
