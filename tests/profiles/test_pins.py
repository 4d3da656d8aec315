"""The pin grammar: every accepted form and every rejected form (docs/concepts.md)."""

from __future__ import annotations

import pytest

from profiles.pins import ACCEPTED_FORMS, PinError, PinKind, parse_pin


@pytest.mark.parametrize(
    ("text", "kind", "stored", "major", "minor"),
    [
        (None, PinKind.DEFAULT, None, None, None),
        ("latest", PinKind.LATEST, "latest", None, None),
        ("latest_builtin", PinKind.LATEST_BUILTIN, "latest_builtin", None, None),
        ("latest_custom", PinKind.LATEST_CUSTOM, "latest_custom", None, None),
        ("1.x.x", PinKind.MAJOR, "1.x.x", 1, None),
        ("0.x.x", PinKind.MAJOR, "0.x.x", 0, None),
        ("12.x.x", PinKind.MAJOR, "12.x.x", 12, None),
        ("1.2.x", PinKind.MINOR, "1.2.x", 1, 2),
        ("1.2.0", PinKind.EXACT, "1.2.0", None, None),
        ("1.3.0-rc.1", PinKind.EXACT, "1.3.0-rc.1", None, None),
        ("  1.x.x  ", PinKind.MAJOR, "1.x.x", 1, None),  # trimmed
    ],
)
def test_accepted(
    text: str | None, kind: PinKind, stored: str | None, major: int | None, minor: int | None
) -> None:
    pin = parse_pin(text)
    assert (pin.kind, pin.text, pin.major, pin.minor) == (kind, stored, major, minor)
    assert pin.auto_updates


@pytest.mark.parametrize("text", ["^1.2.0", "~1.2", "~1.2.3", "^1"])
def test_npm_ranges_get_the_specific_message(text: str) -> None:
    with pytest.raises(PinError) as refused:
        parse_pin(text)
    message = refused.value.message
    assert "npm-style range" in message and "1.x.x" in message and "1.2.x" in message


@pytest.mark.parametrize(
    "text",
    [
        "1.2",
        "1",
        "v1.2.0",
        "1.x",
        "*",
        "x.x.x",
        "1.x.2",
        "1.X.X",
        "1.2.*",
        ">=1.0.0",
        "01.2.0",
        "1.2.0+build",
        "",
        "   ",
        "Latest",
        "LATEST",
        "default",
        "1.2.3.4",
        "1.x.x.x",
        "latest "[:-1] + "s",
    ],
)
def test_rejected_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(PinError) as refused:
        parse_pin(text)
    assert ACCEPTED_FORMS in refused.value.message


def test_exact_pins_never_move_and_lines_do() -> None:
    assert not parse_pin("1.2.0").moves
    assert parse_pin("1.2.x").moves and parse_pin("latest").moves and parse_pin(None).moves
