"""make run's address lives in one place, the SITE_URL line of .env (config/devserver.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from config import devserver


def run(env_file: Path, *args: str) -> int:
    return devserver.main(["--env-file", str(env_file), *args])


@pytest.fixture(autouse=True)
def no_site_url_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SITE_URL", raising=False)


def test_port_rewrites_the_line_and_keeps_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = tmp_path / ".env"
    env.write_text("DEBUG=true\nSITE_URL=http://127.0.0.1:8000\nSECRET_KEY=abc\n")
    assert run(env, "--port", "8018") == 0
    assert capsys.readouterr().out == "127.0.0.1:8018\n"
    assert env.read_text().splitlines() == [
        "DEBUG=true",
        "SECRET_KEY=abc",
        "SITE_URL=http://127.0.0.1:8018",
    ]
    # A later plain `make run` (and every manage.py command) reads the same address.
    assert run(env) == 0
    assert capsys.readouterr().out == "127.0.0.1:8018\n"
    assert env.read_text().count("SITE_URL=") == 1


def test_host_alone_keeps_the_port(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = tmp_path / ".env"
    env.write_text("SITE_URL=http://127.0.0.1:8118\n")
    assert run(env, "--host", "localhost") == 0
    assert capsys.readouterr().out == "localhost:8118\n"
    assert env.read_text() == "SITE_URL=http://localhost:8118\n"
    assert run(env, "--host", "::1", "--port", "8018") == 0
    assert capsys.readouterr().out == "[::1]:8018\n"
    assert env.read_text() == "SITE_URL=http://[::1]:8018\n"


def test_missing_line_or_file_gets_the_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = tmp_path / ".env"
    env.write_text("DEBUG=true\n")
    assert run(env) == 0
    assert capsys.readouterr().out == "127.0.0.1:8000\n"
    assert env.read_text() == "DEBUG=true\nSITE_URL=http://127.0.0.1:8000\n"
    missing = tmp_path / "none.env"
    assert run(missing, "--port", "8118") == 0
    assert missing.read_text() == "SITE_URL=http://127.0.0.1:8118\n"


@pytest.mark.parametrize(
    ("line", "args"),
    [
        ("SITE_URL=https://hub.example.com", ()),
        ("SITE_URL=http://127.0.0.1:8000/hub", ()),
        ("SITE_URL=http://127.0.0.1:8000", ("--port", "80x")),
        ("SITE_URL=http://127.0.0.1:8000", ("--port", "70000")),
    ],
)
def test_unservable_addresses_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, args: tuple[str, ...]
) -> None:
    env = tmp_path / ".env"
    env.write_text(line + "\n")
    assert run(env, *args) == 2
    assert capsys.readouterr().out == ""
    assert env.read_text() == line + "\n"


def test_an_exported_site_url_that_disagrees_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / ".env"
    env.write_text("SITE_URL=http://127.0.0.1:8000\n")
    monkeypatch.setenv("SITE_URL", "http://127.0.0.1:8000/")
    assert run(env) == 0
    monkeypatch.setenv("SITE_URL", "http://127.0.0.1:9999")
    assert run(env) == 2
    assert "overrides" in capsys.readouterr().err


def test_settings_read_the_same_line(tmp_path: Path) -> None:
    """The settings (server, worker, manage.py commands) take SITE_URL from that .env, and the
    local settings allow its host."""
    env = tmp_path / ".env"
    env.write_text("SITE_URL=http://127.0.0.1:8000\n")
    assert run(env, "--host", "hub.test", "--port", "8018") == 0
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.SITE_URL, 'hub.test' in settings.ALLOWED_HOSTS)",
        ],
        cwd=root,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "ENV_FILE": str(env),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["http://hub.test:8018", "True"]


def test_a_busy_address_is_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 30: with port 8000 busy, `make run` seeded the sandbox for 8000 and then failed to
    serve. Its first step now refuses the address while .env and the database are untouched."""
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = tmp_path / ".env"
        env.write_text("SITE_URL=http://127.0.0.1:8000\n")
        assert run(env, "--port", str(port), "--check-free") == 2
        assert "already in use" in capsys.readouterr().err
        assert env.read_text() == "SITE_URL=http://127.0.0.1:8000\n"  # not rewritten
    # Free again: the same command goes through and writes the line.
    assert run(env, "--port", str(port), "--check-free") == 0
    assert env.read_text() == f"SITE_URL=http://127.0.0.1:{port}\n"
