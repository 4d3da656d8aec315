"""Errors of a refused definition, each with its place (``actions[2].inputs[0].in``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn


@dataclass(frozen=True)
class FieldError:
    """One problem in a definition, at ``field`` (a place such as ``info.version``)."""

    field: str
    message: str


class DefinitionError(Exception):
    """A definition was refused; ``errors`` lists every problem with its place."""

    def __init__(
        self, message: str, errors: list[FieldError] | None = None, *, status: int = 400
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errors: list[FieldError] = list(errors or [])
        self.status = status
        self.code = "too_large" if status == 413 else "invalid_definition"

    def __str__(self) -> str:
        return self.message


PathPart = str | int


def format_place(path: Sequence[PathPart]) -> str:
    """``["actions", 2, "inputs", 0, "in"]`` → ``actions[2].inputs[0].in``."""
    place = ""
    for part in path:
        if isinstance(part, int):
            place += f"[{part}]"
        else:
            place += f".{part}" if place else part
    return place or "definition"


def file_place(name: str) -> str:
    return f"files[{name}]"


def _natural_key(text: str) -> list[Any]:
    # re.split with a capture group alternates text and digits, so the types line up.
    return [int(part) if index % 2 else part for index, part in enumerate(re.split(r"(\d+)", text))]


def sorted_errors(errors: list[FieldError]) -> list[FieldError]:
    unique = list(dict.fromkeys(errors))
    return sorted(unique, key=lambda error: (_natural_key(error.field), error.message))


def raise_errors(errors: list[FieldError]) -> None:
    if errors:
        fail(errors)


def fail(errors: list[FieldError]) -> NoReturn:
    errors = sorted_errors(errors)
    count = len(errors)
    if count == 1:
        message = f"The definition has 1 error: {errors[0].field}: {errors[0].message}"
    else:
        message = f"The definition has {count} errors."
    raise DefinitionError(message, errors)
