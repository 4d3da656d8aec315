"""Load the example built-in connectors shipped in connectors/builtin/ (used by seed_demo)."""

from __future__ import annotations

from pathlib import Path

from projects.services import Actor

from .models import ConnectorVersion
from .services import connector_version_push
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


def load_builtin_connectors() -> int:
    """Publish each shipped built-in version that is not in the database yet; returns how many."""
    published = 0
    for directory in builtin_version_dirs():
        key, version = directory.parent.name, directory.name
        if ConnectorVersion.objects.filter(
            connector__key=key, project__isnull=True, version=version
        ).exists():
            continue
        connector_version_push(actor=Actor.system(), project=None, files=version_files(directory))
        published += 1
    return published
