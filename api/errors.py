"""The API's error body: {"code", "message", "fields": [{"field", "message"}]}."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.http import JsonResponse

CODES = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    411: "length_required",
    413: "too_large",
    422: "refused",
    429: "rate_limited",
    500: "server_error",
    503: "unavailable",
}


def error_body(
    status: int,
    message: str | None = None,
    *,
    code: str | None = None,
    fields: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    if message is None:
        message = HTTPStatus(status).phrase + "."
    return {
        "code": code or CODES.get(status, "error"),
        "message": message,
        "fields": fields or [],
    }


def error_response(
    status: int,
    message: str | None = None,
    *,
    code: str | None = None,
    fields: list[dict[str, str]] | None = None,
) -> JsonResponse:
    return JsonResponse(error_body(status, message, code=code, fields=fields), status=status)
