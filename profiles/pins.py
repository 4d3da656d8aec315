"""The pin grammar (docs/concepts.md "Profiles, pins and resolution"): parse a pin or say
why not."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from connectors.versioning import parse_version

ACCEPTED_FORMS = (
    "Accepted pins: latest, latest_builtin, latest_custom, a major line like 1.x.x, "
    "a minor line like 1.2.x, an exact version like 1.2.0 (or 1.3.0-rc.1), "
    "or no pin for the default resolution."
)
_NUMBER = r"(0|[1-9][0-9]*)"
_MAJOR_LINE = re.compile(rf"^{_NUMBER}\.x\.x$")
_MINOR_LINE = re.compile(rf"^{_NUMBER}\.{_NUMBER}\.x$")


class PinKind(StrEnum):
    DEFAULT = "default"  # no pin
    LATEST = "latest"
    LATEST_BUILTIN = "latest_builtin"
    LATEST_CUSTOM = "latest_custom"
    MAJOR = "major"
    MINOR = "minor"
    EXACT = "exact"


class PinError(ValueError):
    """A pin that is not in the grammar; ``message`` is shown to the user as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Pin:
    kind: PinKind
    text: str | None  # the pin as stored (None for the default resolution)
    major: int | None = None
    minor: int | None = None
    version: str | None = None

    @property
    def auto_updates(self) -> str:
        """How the pin follows new releases, in words."""
        return {
            PinKind.DEFAULT: "Moves to every new release (custom versions first).",
            PinKind.LATEST: "Moves to every new release (custom versions first).",
            PinKind.LATEST_BUILTIN: "Moves to every new built-in release; ignores custom versions.",
            PinKind.LATEST_CUSTOM: "Moves to every new custom release.",
            PinKind.MAJOR: f"Moves to new minor and patch releases of {self.major}.x.x.",
            PinKind.MINOR: f"Moves to new patch releases of {self.major}.{self.minor}.x.",
            PinKind.EXACT: "Never moves.",
        }[self.kind]

    @property
    def moves(self) -> bool:
        return self.kind is not PinKind.EXACT


DEFAULT_PIN = Pin(PinKind.DEFAULT, None)


def parse_pin(value: str | None) -> Pin:
    if value is None:
        return DEFAULT_PIN
    text = value.strip()
    if not text:
        raise PinError(f"The pin is empty. {ACCEPTED_FORMS}")
    if text in (PinKind.LATEST, PinKind.LATEST_BUILTIN, PinKind.LATEST_CUSTOM):
        return Pin(PinKind(text), text)
    if text.startswith(("^", "~")):
        raise PinError(
            f"“{text}” is an npm-style range; those are not accepted. Use a major line like "
            "1.x.x (instead of ^1.2.0) or a minor line like 1.2.x (instead of ~1.2). "
            + ACCEPTED_FORMS
        )
    if match := _MAJOR_LINE.match(text):
        return Pin(PinKind.MAJOR, text, major=int(match[1]))
    if match := _MINOR_LINE.match(text):
        return Pin(PinKind.MINOR, text, major=int(match[1]), minor=int(match[2]))
    try:
        version = parse_version(text)
    except ValueError:
        raise PinError(f"“{text}” is not a valid pin. {ACCEPTED_FORMS}") from None
    return Pin(PinKind.EXACT, str(version), version=str(version))
