"""docs/api.md stays true: its ```sh blocks run in order, with curl, against a live server
holding the demo data (after the README's breaking-release walk-through), and every curl
command answers the status written after it (``# → 201``)."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from projects.models import Project, Team
from projects.services import Actor, api_key_create

from .demo import start_the_demo_migration

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
API_MD = ROOT / "docs" / "api.md"
EXPECTED = re.compile(r"#\s*→\s*(\d{3})")

# curl, recording each status in $STATUS_LOG and printing the body (so pipes to jq work).
PRELUDE = r"""
set -eo pipefail
curl() {
  local body status
  body=$(mktemp)
  status=$(command curl -sS -o "$body" -w '%{http_code}' "$@")
  echo "$status" >> "$STATUS_LOG"
  cat "$body"
  echo
  rm -f "$body"
}
"""


def sh_blocks(text: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def commands(script: str) -> list[str]:
    """Logical shell lines (continuations joined); heredoc bodies are skipped."""
    out: list[str] = []
    current = ""
    heredoc: str | None = None
    for line in script.splitlines():
        if heredoc is not None:
            if line.strip() == heredoc:
                heredoc = None
            continue
        current += line.rstrip("\\") + " " if line.rstrip().endswith("\\") else line
        if line.rstrip().endswith("\\"):
            continue
        match = re.search(r"<<'?(\w+)'?", current)
        if match:
            heredoc = match.group(1)
        out.append(current)
        current = ""
    return out


def expected_statuses(script: str) -> list[tuple[str, int]]:
    """Each curl command with the status written after it."""
    statuses = []
    for command in commands(script):
        if re.search(r"\bcurl\b", command.split("#")[0]):
            found = EXPECTED.search(command)
            assert found, f"a curl example without its expected status (# → 200): {command}"
            statuses.append((command.split("#")[0].strip(), int(found.group(1))))
    return statuses


@pytest.mark.skipif(not shutil.which("curl") or not shutil.which("jq"), reason="needs curl and jq")
def test_every_api_example_answers_as_written(
    live_server: Any, settings: Any, tmp_path: Path
) -> None:
    settings.SITE_URL = live_server.url
    call_command("seed_demo", stdout=io.StringIO())
    project = Project.objects.get(slug="acme-production")
    start_the_demo_migration(project)
    _key, raw_key = api_key_create(actor=Actor.system(), project=project, name="docs")
    team = Team.objects.get(organization=project.organization, name="Support")

    script = "\n".join(sh_blocks(API_MD.read_text()))
    expected = expected_statuses(script)
    assert len(expected) > 30
    status_log = tmp_path / "statuses"
    status_log.touch()
    result = subprocess.run(
        ["bash", "-c", PRELUDE + script],
        cwd=tmp_path,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HUB": live_server.url,
            "KEY": raw_key,
            "TEAM": str(team.public_id),
            "STATUS_LOG": str(status_log),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    answered = [int(s) for s in status_log.read_text().split()]
    wrong = [
        f"{command}\n  written: {status}, answered: {got}"
        for (command, status), got in zip(expected, answered, strict=False)
        if status != got
    ]
    assert not wrong, "\n".join(wrong)
    assert result.returncode == 0, result.stderr + result.stdout[-3000:]
    assert len(answered) == len(expected), result.stderr
