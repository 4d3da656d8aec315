"""Pin grammar edge cases: leading zeros and extra parts in lines, exact parse results, the
exact messages (as ``str(error)`` too) and the words shown for each kind."""

from __future__ import annotations

import pytest

from profiles.pins import ACCEPTED_FORMS, DEFAULT_PIN, Pin, PinError, PinKind, parse_pin

NOT_A_PIN = "“{}” is not a valid pin. " + ACCEPTED_FORMS


@pytest.mark.parametrize(
    "text",
    [
        "01.x.x",
        "00.x.x",
        "1.02.x",
        "01.2.x",
        "1.00.x",
        "1.2.x.4",
        "1.2.x.x",
        "1.x.x.4",
        "1.2.xyz",
        "1.x.xyz",
        "1.xx.x",
        "1.2.xx",
        "x.2.x",
        "1.x.x-rc.1",
        "1.2.x-rc.1",
        "1.2.x+build",
        "-1.x.x",
        "1..x",
        "1.2.3-01",
        "a1.x.x",
        "1.x.x\n1.x.x",
    ],
)
def test_lines_with_leading_zeros_or_extra_parts_are_refused(text: str) -> None:
    with pytest.raises(PinError) as refused:
        parse_pin(text)
    expected = NOT_A_PIN.format(text.strip())
    assert refused.value.message == expected
    assert str(refused.value) == expected
    assert refused.value.args == (expected,)
    assert isinstance(refused.value, ValueError)


@pytest.mark.parametrize("text", ["", " ", "\t\n"])
def test_the_empty_pin_message(text: str) -> None:
    with pytest.raises(PinError) as refused:
        parse_pin(text)
    expected = f"The pin is empty. {ACCEPTED_FORMS}"
    assert (refused.value.message, str(refused.value)) == (expected, expected)


@pytest.mark.parametrize("text", ["^1.2.0", " ~1.2 "])
def test_the_npm_range_message(text: str) -> None:
    with pytest.raises(PinError) as refused:
        parse_pin(text)
    expected = (
        f"“{text.strip()}” is an npm-style range; those are not accepted. Use a major line like "
        "1.x.x (instead of ^1.2.0) or a minor line like 1.2.x (instead of ~1.2). " + ACCEPTED_FORMS
    )
    assert (refused.value.message, str(refused.value)) == (expected, expected)


def test_the_accepted_forms_text() -> None:
    assert ACCEPTED_FORMS == (
        "Accepted pins: latest, latest_builtin, latest_custom, a major line like 1.x.x, "
        "a minor line like 1.2.x, an exact version like 1.2.0 (or 1.3.0-rc.1), "
        "or no pin for the default resolution."
    )


@pytest.mark.parametrize(
    ("text", "pin"),
    [
        (None, Pin(PinKind.DEFAULT, None)),
        ("latest", Pin(PinKind.LATEST, "latest")),
        (" latest_builtin\t", Pin(PinKind.LATEST_BUILTIN, "latest_builtin")),
        ("latest_custom", Pin(PinKind.LATEST_CUSTOM, "latest_custom")),
        ("0.x.x", Pin(PinKind.MAJOR, "0.x.x", major=0)),
        ("10.x.x", Pin(PinKind.MAJOR, "10.x.x", major=10)),
        ("0.0.x", Pin(PinKind.MINOR, "0.0.x", major=0, minor=0)),
        ("\t10.20.x\n", Pin(PinKind.MINOR, "10.20.x", major=10, minor=20)),
        ("1.2.0", Pin(PinKind.EXACT, "1.2.0", version="1.2.0")),
        (" 0.0.0 ", Pin(PinKind.EXACT, "0.0.0", version="0.0.0")),
        ("1.3.0-rc.1", Pin(PinKind.EXACT, "1.3.0-rc.1", version="1.3.0-rc.1")),
        ("1.3.0-0.x.x", Pin(PinKind.EXACT, "1.3.0-0.x.x", version="1.3.0-0.x.x")),
    ],
)
def test_parse_results_exactly(text: str | None, pin: Pin) -> None:
    assert parse_pin(text) == pin


def test_no_pin_is_the_default_pin() -> None:
    assert parse_pin(None) is DEFAULT_PIN
    assert (DEFAULT_PIN.kind, DEFAULT_PIN.text, DEFAULT_PIN.major, DEFAULT_PIN.minor) == (
        PinKind.DEFAULT,
        None,
        None,
        None,
    )
    assert DEFAULT_PIN.version is None


@pytest.mark.parametrize(
    ("text", "words", "moves"),
    [
        (None, "Moves to every new release (custom versions first).", True),
        ("latest", "Moves to every new release (custom versions first).", True),
        ("latest_builtin", "Moves to every new built-in release; ignores custom versions.", True),
        ("latest_custom", "Moves to every new custom release.", True),
        ("3.x.x", "Moves to new minor and patch releases of 3.x.x.", True),
        ("3.4.x", "Moves to new patch releases of 3.4.x.", True),
        ("3.4.5", "Never moves.", False),
        ("3.4.5-rc.1", "Never moves.", False),
    ],
)
def test_how_each_kind_follows_releases(text: str | None, words: str, moves: bool) -> None:
    pin = parse_pin(text)
    assert pin.auto_updates == words
    assert pin.moves is moves


def test_kinds_are_stored_by_name() -> None:
    assert [kind.value for kind in PinKind] == [
        "default",
        "latest",
        "latest_builtin",
        "latest_custom",
        "major",
        "minor",
        "exact",
    ]
