"""No module outgrows 600 lines (migrations and tests aside): a module that does is split into
a package by topic, as connections/selectors/ was."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 600
SKIP = {".venv", ".tools", "tests", "node_modules"}


def too_long() -> dict[str, int]:
    found = {}
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in SKIP or "migrations" in relative.parts:
            continue
        lines = len(path.read_text().splitlines())
        if lines > LIMIT:
            found[str(relative)] = lines
    return found


def test_no_module_over_the_limit() -> None:
    over = too_long()
    assert not over, f"split these into packages by topic (over {LIMIT} lines): {over}"
