"""The publish preview's "profiles that would move": the pin must accept the new version and the
version must beat the current resolution (custom precedence, then semver) — beats()."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import TYPE_CHECKING

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from profiles.pins import parse_pin
from profiles.resolution import Resolved, beats, pin_accepts, resolve_uncached
from tests.conftest import Tenancy
from tests.factories import connector_yaml, make_project, pin_profile, publish_version

if TYPE_CHECKING:
    from connectors.models import ConnectorVersion

pytestmark = pytest.mark.django_db

MOVE = re.compile(r'<li><a href="[^"]+">([^<]+)</a> \(pin ([^)]+)\) · now on ([^<\s]+)')


@pytest.fixture
def profiles(tenancy: Tenancy) -> Tenancy:
    """Built-in 1.0.0 and 2.0.0, custom 1.5.0; a profile per kind of pin."""
    project = tenancy.project
    publish_version(None, "1.0.0")
    publish_version(None, "2.0.0")
    publish_version(project, "1.5.0")
    for name, pin in [
        ("default", None),
        ("latest", "latest"),
        ("builtin", "latest_builtin"),
        ("custom", "latest_custom"),
        ("one", "1.x.x"),
        ("two", "2.x.x"),
        ("one-five", "1.5.x"),
        ("exact", "1.5.0"),
    ]:
        pin_profile(project, name, pin)
    return tenancy


def moves(tenancy: Tenancy, version: str) -> list[tuple[str, str, str]]:
    response = tenancy.client("admin").post(
        reverse("connector_upload_preview", args=[tenancy.project.slug]),
        {"files": [SimpleUploadedFile("c.yaml", connector_yaml(version=version))]},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    block = html[html.index('data-testid="moves"') :]
    block = block[: block.index("</div>")]
    found = MOVE.findall(block)
    if not found:
        assert "No profile of this project would move" in block
    return sorted(found)


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        # higher custom: every moving pin that accepts it, from custom 1.5.0
        (
            "1.6.0",
            [
                ("custom", "latest_custom", "1.5.0"),
                ("default", "default", "1.5.0"),
                ("latest", "latest", "1.5.0"),
                ("one", "1.x.x", "1.5.0"),
            ],
        ),
        # a patch of the 1.5 line also moves the 1.5.x pin
        (
            "1.5.1",
            [
                ("custom", "latest_custom", "1.5.0"),
                ("default", "default", "1.5.0"),
                ("latest", "latest", "1.5.0"),
                ("one", "1.x.x", "1.5.0"),
                ("one-five", "1.5.x", "1.5.0"),
            ],
        ),
        # lower than the current custom version: nobody moves back
        ("1.2.0", []),
        # the same number as a built-in version: custom precedence moves the 2.x.x line
        (
            "2.0.0",
            [
                ("custom", "latest_custom", "1.5.0"),
                ("default", "default", "1.5.0"),
                ("latest", "latest", "1.5.0"),
                ("two", "2.x.x", "2.0.0"),
            ],
        ),
        # a custom 2.x: above the custom 1.5.0 and the built-in 2.0.0
        (
            "2.1.0",
            [
                ("custom", "latest_custom", "1.5.0"),
                ("default", "default", "1.5.0"),
                ("latest", "latest", "1.5.0"),
                ("two", "2.x.x", "2.0.0"),
            ],
        ),
    ],
)
def test_profiles_that_would_move(
    profiles: Tenancy, version: str, expected: list[tuple[str, str, str]]
) -> None:
    assert moves(profiles, version) == expected


@pytest.fixture
def rows() -> SimpleNamespace:
    project = make_project()
    builtin_1 = publish_version(None, "1.0.0")
    builtin_2 = publish_version(None, "2.0.0")
    custom_1 = publish_version(project, "1.0.0")
    custom_15 = publish_version(project, "1.5.0")
    return SimpleNamespace(project=project, b1=builtin_1, b2=builtin_2, c1=custom_1, c15=custom_15)


def _as_resolved(version: ConnectorVersion, project_slug: str) -> Resolved:
    builtin = version.project_id is None
    return Resolved(
        version.pk,
        version.version,
        builtin,
        "platform" if builtin else project_slug,
        bytes(version.version_key),
    )


def test_beats_custom_precedence_then_semver(rows: SimpleNamespace) -> None:
    slug = rows.project.slug
    current = {name: _as_resolved(getattr(rows, name), slug) for name in ("b1", "b2", "c1", "c15")}
    table = [
        # version, current, wins
        ("b2", "b1", True),  # higher built-in over built-in
        ("b1", "b2", False),
        ("b1", "b1", False),  # a version does not beat itself
        ("c1", "c1", False),
        ("c1", "b1", True),  # the same number: custom wins
        ("b1", "c1", False),
        ("c1", "b2", True),  # custom over a higher built-in
        ("b2", "c1", False),  # built-in never over custom
        ("c15", "c1", True),
        ("c1", "c15", False),
    ]
    got = [(v, c, beats(getattr(rows, v), current[c])) for v, c, _w in table]
    assert got == table
    assert beats(rows.b1, None) is True
    assert beats(rows.c1, None) is True


def test_beats_agrees_with_resolution(rows: SimpleNamespace) -> None:
    """What resolution picks beats every other candidate the pin accepts."""
    project = rows.project
    for text in (None, "latest", "1.x.x", "latest_builtin", "latest_custom", "1.0.x"):
        pin = parse_pin(text)
        winner = resolve_uncached(project, rows.b1.connector_id, pin)
        assert winner is not None
        others = [
            name
            for name in ("b1", "b2", "c1", "c15")
            if getattr(rows, name).pk != winner.id
            and pin_accepts(pin, getattr(rows, name), project)
        ]
        assert others, text
        assert [n for n in others if beats(getattr(rows, n), winner)] == [], text
