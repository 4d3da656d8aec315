"""The input boundary: one check for every piece of text that enters (query strings, paths,
forms, JSON and YAML), and the numeric bounds of paging parameters.

A text is refused, never repaired:

- NUL and the other C0/C1 control characters (and DEL) anywhere; a multi-line field (a
  textarea, a description) may hold tab, newline and carriage return;
- in single-line text (names, titles, keys, search boxes), the bidirectional embedding,
  override and isolate characters U+202A–U+202E and U+2066–U+2069 too, which make a name
  read differently from what it is ("Trojan Source");
- beyond its length limit (the message names it): nothing is ever cut silently.

``text_problem`` says what is wrong (or None); Django form fields (``core.forms``), the API's
pydantic types (``Line`` / ``Lines`` below) and the definition parser all call it.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from pydantic import AfterValidator, Field

# Controls: C0 (U+0000–U+001F), DEL and C1 (U+007F–U+009F).
_SINGLE_LINE_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MULTI_LINE_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_BIDI_CONTROL: Final = re.compile(r"[\u202a-\u202e\u2066-\u2069]")

# A table's search box (dashboard ``q``, API ``search``): more is refused, never cut.
MAX_SEARCH: Final = 200
# Paging bounds: an offset past this is no page anyone reads, and it keeps every figure far
# inside a 64-bit integer (PostgreSQL's bigint), so it never reaches the database as an error.
MAX_OFFSET: Final = 10_000_000
# Ids are 64-bit integers in the database: larger numbers are no id (404, never an overflow).
MAX_ID: Final = 2**63 - 1


def _codepoint(char: str) -> str:
    return f"U+{ord(char):04X}"


def text_problem(
    value: str, *, multiline: bool = False, max_length: int | None = None
) -> str | None:
    """What is wrong with ``value`` as input text, as the end of a sentence ("must not
    contain ..."), or None when it may enter."""
    control = (_MULTI_LINE_CONTROL if multiline else _SINGLE_LINE_CONTROL).search(value)
    if control is not None:
        allowed = " (tab and newline are allowed)" if multiline else ""
        return (
            f"must not contain control characters{allowed}; found {_codepoint(control.group())} "
            f"at position {control.start() + 1}"
        )
    if not multiline:
        bidi = _BIDI_CONTROL.search(value)
        if bidi is not None:
            return (
                "must not contain bidirectional override or isolate characters; found "
                f"{_codepoint(bidi.group())} at position {bidi.start() + 1}"
            )
    if max_length is not None and len(value) > max_length:
        return f"must be at most {max_length:,} characters long (it has {len(value):,})"
    return None


def check_text(value: str, *, multiline: bool = False, max_length: int | None = None) -> str:
    """``value`` unchanged, or ValueError with ``text_problem``'s message."""
    problem = text_problem(value, multiline=multiline, max_length=max_length)
    if problem is not None:
        raise ValueError(problem)
    return value


def _check_line(value: str) -> str:
    return check_text(value)


def _check_lines(value: str) -> str:
    return check_text(value, multiline=True)


def email_problem(value: str) -> str | None:
    """What is wrong with ``value`` as an email address (Django's EmailValidator: no CR/LF, no
    ``<script>@x``), or None; the empty string means none and is fine."""
    problem = text_problem(value, max_length=254)
    if problem is not None or not value:
        return problem
    try:
        validate_email(value)
    except ValidationError:
        return "must be a valid email address such as name@example.com"
    return None


def _check_email(value: str) -> str:
    problem = email_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


# Pydantic (django-ninja) types for query, path and body fields: ``Line`` for single-line text,
# ``Lines`` for multi-line text; give the length with ``Field(max_length=...)`` as usual.
Line = Annotated[str, AfterValidator(_check_line)]
Lines = Annotated[str, AfterValidator(_check_lines)]
Email = Annotated[str, AfterValidator(_check_email)]
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET)]
