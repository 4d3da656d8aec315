"""The example built-in connectors in connectors/builtin/ parse and step through every change level.

Layout: connectors/builtin/<key>/<version>/connector.yaml plus optional partial files.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest
import semver

from connectors.changes import compare_definitions
from connectors.definition import DefinitionError, ParsedDefinition, parse_definition

BUILTIN_DIR = Path(__file__).resolve().parents[2] / "connectors" / "builtin"
MAIN_FILE = "connector.yaml"

CONNECTOR_DIRS = sorted(path for path in BUILTIN_DIR.iterdir() if path.is_dir())
EXPECTED_VERSIONS = ["1.0.0", "1.0.1", "1.1.0", "2.0.0"]
# acme_crm's 2.0.0 shows two kinds of breaking change: a required config field and a removed action.
MIN_MAJOR_CHANGES = {"acme_crm": 2}


def version_dirs(connector_dir: Path) -> list[Path]:
    dirs = [path for path in connector_dir.iterdir() if path.is_dir()]
    return sorted(dirs, key=lambda path: semver.Version.parse(path.name))


def definition_files(version_dir: Path) -> list[tuple[str, bytes]]:
    """The main file first, then the partial files of the directory, sorted by name."""
    main = version_dir / MAIN_FILE
    partials = sorted(
        path for path in version_dir.iterdir() if path.is_file() and path.name != MAIN_FILE
    )
    return [(path.name, path.read_bytes()) for path in [main, *partials]]


def parse_version_dir(version_dir: Path) -> ParsedDefinition:
    try:
        return parse_definition(definition_files(version_dir))
    except DefinitionError as error:
        details = "; ".join(f"{e.field}: {e.message}" for e in error.errors)
        pytest.fail(f"{version_dir.relative_to(BUILTIN_DIR)}: {error.message} ({details})")


def test_the_three_examples_are_there() -> None:
    assert [path.name for path in CONNECTOR_DIRS] == ["acme_crm", "ledgerly", "orbit_hr"]


@pytest.mark.parametrize("connector_dir", CONNECTOR_DIRS, ids=lambda path: path.name)
def test_every_version_parses(connector_dir: Path) -> None:
    dirs = version_dirs(connector_dir)
    assert [path.name for path in dirs] == EXPECTED_VERSIONS
    for version_dir in dirs:
        assert (version_dir / MAIN_FILE).is_file()
        parsed = parse_version_dir(version_dir)
        assert parsed.key == connector_dir.name
        assert parsed.version == version_dir.name
        assert parsed.definition["info"]["version"] == version_dir.name
        assert parsed.definition["info"]["key"] == connector_dir.name
        assert parsed.title
        # Partials are spliced in: no $ref is left among the actions.
        assert all("$ref" not in action for action in parsed.definition["actions"])


@pytest.mark.parametrize("connector_dir", CONNECTOR_DIRS, ids=lambda path: path.name)
def test_versions_step_through_patch_minor_major(connector_dir: Path) -> None:
    parsed = [parse_version_dir(version_dir) for version_dir in version_dirs(connector_dir)]

    first = compare_definitions(None, parsed[0].definition)
    assert first.level == "initial"

    levels = []
    reauth = []
    for previous, current in pairwise(parsed):
        report = compare_definitions(
            previous.definition, current.definition, previous_version=previous.version
        )
        levels.append(report.level)
        reauth.append(report.reauth_required)
        if report.level == "major":
            majors = [change for change in report.changes if change.level == "major"]
            assert len(majors) >= MIN_MAJOR_CHANGES.get(connector_dir.name, 1), report.changes
        else:
            assert all(change.level != "major" for change in report.changes), report.changes

    assert levels == ["patch", "minor", "major"]
    assert reauth == [False, False, True]
