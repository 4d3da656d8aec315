"""Bodies rendered as ninja renders an operation's result, for an operation that returns its
own response (a hot list, skipping the response schema's validation of every row)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.http import HttpResponse
from ninja.renderers import JSONRenderer

_RENDERER = JSONRenderer()
CONTENT_TYPE = f"{_RENDERER.media_type}; charset={_RENDERER.charset}"


def json_response(data: Any, status: int = 200) -> HttpResponse:
    """``data`` (JSON-ready values, datetimes and UUIDs included) as the API's renderer would
    render it: the same encoder, the same bytes, the same content type."""
    content = _RENDERER.render(None, data, response_status=status)  # type: ignore[arg-type]
    return HttpResponse(content, status=status, content_type=CONTENT_TYPE)


def json_datetime(value: datetime | None) -> str | None:
    """``value`` as the renderer's encoder writes it (Django's ECMA-262 form: milliseconds,
    ``Z`` for UTC), done ahead so that the encoder writes a plain string."""
    if value is None:
        return None
    text = value.isoformat()
    if value.microsecond:
        text = text[:23] + text[26:]
    if text.endswith("+00:00"):
        text = text[:-6] + "Z"
    return text


def json_uuid(value: UUID | None) -> str | None:
    return None if value is None else str(value)
