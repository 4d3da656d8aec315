"""gunicorn with the project's config keeps connect tokens and OAuth codes and states out of
its access and error log (config/gunicorn.py puts the redaction filter on both)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import urlopen

import pytest
from django.db import connection

from connections.services.connect import connect_session_create
from projects.services import Actor
from tests.factories import make_profile, make_project

ROOT = Path(__file__).resolve().parent.parent.parent
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> int:
    try:
        with urlopen(url, timeout=30) as response:  # the first pays the worker's imports
            return int(response.status)
    except HTTPError as exc:
        return exc.code


def test_no_token_code_or_state_in_gunicorns_log(tmp_path: Path) -> None:
    project = make_project()
    profile = make_profile(project, "acme_crm", "production")
    token = connect_session_create(
        actor=Actor.system(),
        project=project,
        connector_profile_id=profile.public_id,
        origin_owner_id="end-user-1",
    ).token
    code, state = "Code4242SecretValueXyz", "State4242SecretValueXyz"
    port = _free_port()
    log_path = tmp_path / "gunicorn.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.second_process_settings",
        "SECOND_PROCESS_DATABASE": json.dumps(dict(connection.settings_dict), default=str),
        "SECOND_PROCESS_CACHE": json.dumps(
            {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
        ),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
    }
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.2)
            assert _get(f"{base}/connect/{token}/") == 200
            assert _get(f"{base}/connect/{token}/oauth/start") == 400  # not an OAuth profile
            assert _get(f"{base}/connect/oauth/callback?code={code}&state={state}") == 400
        finally:
            server.terminate()
            server.wait(timeout=15)
    text = log_path.read_text()
    assert '"GET /connect/[redacted]/ HTTP/1.1" 200' in text
    assert "/connect/oauth/callback?code=[redacted]&state=[redacted]" in text
    for secret in (token, code, state):
        assert secret not in text
