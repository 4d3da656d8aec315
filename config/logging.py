"""A logging filter that keeps bearer values out of every log line: hosted connect tokens in
``/connect/<token>/`` paths and OAuth ``code`` / ``state`` / token query parameters."""

from __future__ import annotations

import logging
import re

from django.core.exceptions import PermissionDenied

_PATTERNS = [
    (re.compile(r"(/connect/)(?!oauth/)[A-Za-z0-9_\-]{16,}"), r"\1[redacted]"),
    (
        re.compile(
            r"([?&](?:code|state|access_token|refresh_token|token|code_verifier)=)[^&\s\"']+"
        ),
        r"\1[redacted]",
    ),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is logged as it is
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


class QuietStaticRequests(logging.Filter):
    """Drops the development server's request lines for static files that were served (a page
    view otherwise logs one line per stylesheet and script). Failed ones (4xx/5xx) still show.
    Settings attach it to ``django.server`` unless ``LOG_STATIC`` is true."""

    def __init__(self, prefix: str = "/static/") -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and status >= 400:
            return True
        args = record.args
        if not isinstance(args, tuple) or not args or not isinstance(args[0], str):
            return True
        # args[0] is the request line: "GET /static/css/app.css HTTP/1.1".
        parts = args[0].split(" ")
        return not (len(parts) >= 2 and parts[1].startswith(self.prefix))


class PlainRefusals(logging.Filter):
    """A refused request (PermissionDenied: a 403 of an ordinary role check) is one warning
    line, not a traceback: Django's request logger attaches the exception, which says nothing
    an admin needs and buried the development log (32 tracebacks for one walk-through)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], PermissionDenied):
            record.exc_info = None
            record.exc_text = None
        return True
