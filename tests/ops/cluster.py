"""Real processes for the scale-out tests: gunicorn app servers and management commands on a
database and cache given by URL (the project's own settings, as `make run` or production read
them), each bound to a free loopback port and stopped by the test."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(database_url: str, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "CACHE_URL", "DATABASE_URL", "TASKS_BACKEND"}
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "ENV_FILE": str(ROOT / "no-such-env-file"),
            "DATABASE_URL": database_url,
            "DEBUG": "false",
            "SECRET_KEY": "scale-out-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
            "GUNICORN_ACCESS_LOG": "",
            "WEB_CONCURRENCY": "1",
        }
    )
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@contextmanager
def app_server(env: dict[str, str]) -> Iterator[str]:
    """One gunicorn app server (config/gunicorn.py); yields its base URL once /healthz answers."""
    port = free_port()
    command = ["-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi"]
    with serving(command, {**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}, port) as url:
        yield url


@contextmanager
def serving(args: list[str], env: dict[str, str], port: int) -> Iterator[str]:
    """``python <args>`` serving HTTP on ``port``: its base URL once /healthz answers, stopped
    at the end."""
    server = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(url + "/healthz", timeout=5).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{args} did not start: {server.stderr.read()[-3000:]}")  # type: ignore[union-attr]
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


@contextmanager
def background(env: dict[str, str], *args: str) -> Iterator[subprocess.Popen[Any]]:
    """A long-running manage.py command (the worker, the scheduler), stopped at the end."""
    process = subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
