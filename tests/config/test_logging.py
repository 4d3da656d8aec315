"""The development log: every line printed once, redacted, static-file request lines quiet
unless LOG_STATIC is set. Runs Django's real logging setup in a fresh process with the local
settings (DEBUG on, where Django's own console handler would print a second copy)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "lmRYIxur96Uo9XrXu3aJIxeCs24z87Om9vqp_2S88E0"
SCRIPT = f"""
import logging, django
django.setup()
logging.getLogger("django.request").warning("Not Found: %s", "/connect/{TOKEN}/")
logging.getLogger("django.tasks").info("Task id=t1 path=x.y state=SUCCESSFUL")
logging.getLogger("connections").warning("a warning of our own")
from django.core.exceptions import PermissionDenied
try:
    raise PermissionDenied("viewers cannot do that")
except PermissionDenied as exc:
    logging.getLogger("django.request").warning(
        "Forbidden (Permission denied): %s", "/p/acme/x/", exc_info=exc
    )
server = logging.getLogger("django.server")
extra = {{"request": None, "server_time": "now"}}
server.info('"%s" %s %s', "GET /p/acme-production/ HTTP/1.1", "200", "4942",
            extra={{**extra, "status_code": 200}})
server.info('"%s" %s %s', "GET /static/css/app.css HTTP/1.1", "200", "4470",
            extra={{**extra, "status_code": 200}})
server.info('"%s" %s %s', "GET /static/js/app.js HTTP/1.1", "304", "0",
            extra={{**extra, "status_code": 304}})
server.warning('"%s" %s %s', "GET /static/missing.css HTTP/1.1", "404", "179",
               extra={{**extra, "status_code": 404}})
server.info('"%s" %s %s', "GET /connect/oauth/callback?code=SECRETCODE&state=S1 HTTP/1.1",
            "200", "901", extra={{**extra, "status_code": 200}})
"""


def run_logging(**env: str) -> list[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"LOG_STATIC", "LOG_LEVEL", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    clean.update(env, DJANGO_SETTINGS_MODULE="config.settings.local", ENV_FILE="/nonexistent")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return (result.stdout + result.stderr).splitlines()


def test_each_line_once_redacted_and_static_requests_quiet() -> None:
    lines = run_logging()
    assert sum("Not Found: /connect/" in line for line in lines) == 1
    assert sum("Task id=t1" in line for line in lines) == 1
    assert sum("a warning of our own" in line for line in lines) == 1
    assert sum("GET /p/acme-production/" in line for line in lines) == 1
    text = "\n".join(lines)
    assert TOKEN not in text and "SECRETCODE" not in text and "S1 " not in text
    # Served static files are quiet; a missing one still shows.
    assert "/static/css/app.css" not in text and "/static/js/app.js" not in text
    assert sum("/static/missing.css" in line for line in lines) == 1
    # A 403 is one line, no traceback (issue 30: 32 tracebacks for ordinary role checks).
    assert sum("Forbidden (Permission denied): /p/acme/x/" in line for line in lines) == 1
    assert "Traceback" not in text
    assert len(lines) == 7, text


def test_log_static_shows_static_requests() -> None:
    lines = run_logging(LOG_STATIC="true")
    text = "\n".join(lines)
    assert sum("/static/css/app.css" in line for line in lines) == 1
    assert sum("/static/js/app.js" in line for line in lines) == 1
    assert TOKEN not in text and "SECRETCODE" not in text


def test_json_log_lines_keep_the_redaction() -> None:
    """LOG_FORMAT=json: one JSON object per line, connect tokens and OAuth codes redacted."""
    import copy
    import io
    import json
    import logging.config

    from django.conf import settings

    config: dict[str, Any] = copy.deepcopy(settings.LOGGING)
    config["handlers"]["console"]["formatter"] = "json"
    logging.config.dictConfig(config)
    handler = logging.getLogger().handlers[0]
    stream = io.StringIO()
    handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        logging.getLogger("x").warning("GET /connect/abcdefghijklmnopqrstuv/ ?code=SECRETCODE1")
        line = json.loads(stream.getvalue().strip().splitlines()[-1])
        assert line["levelname"] == "WARNING" and line["name"] == "x"
        assert (
            "SECRETCODE1" not in stream.getvalue() and "abcdefghijklmnop" not in stream.getvalue()
        )
        assert "[redacted]" in line["message"]
    finally:
        logging.config.dictConfig(settings.LOGGING)
