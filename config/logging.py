"""A logging filter that keeps bearer values out of every log line: hosted connect tokens in
``/connect/<token>/`` paths and OAuth ``code`` / ``state`` / token query parameters."""

from __future__ import annotations

import logging
import re

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
