"""The example built-in connectors shipped in connectors/builtin/ (published by
``profiles.services.builtin_connectors_load``, which seed_demo and seed_bench call)."""

from __future__ import annotations

from pathlib import Path

from .versioning import version_key

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"
MAIN_FILE = "connector.yaml"


def builtin_version_dirs() -> list[Path]:
    """Every <key>/<version>/ directory, each connector's versions in semver order."""
    dirs = [d for d in BUILTIN_DIR.glob("*/*") if (d / MAIN_FILE).is_file()]
    return sorted(dirs, key=lambda d: (d.parent.name, version_key(d.name)))


def version_files(directory: Path) -> list[tuple[str, bytes]]:
    partials = sorted(
        p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.name != MAIN_FILE
    )
    return [(MAIN_FILE, (directory / MAIN_FILE).read_bytes())] + [
        (p.name, p.read_bytes()) for p in partials
    ]
