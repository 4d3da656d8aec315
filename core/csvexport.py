"""Streamed CSV for exports: a writer into the response stream and formula-safe cells."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class Echo:
    """A file-like object whose write returns the line (csv.writer into a stream)."""

    def write(self, value: str) -> str:
        return value


def csv_cell(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (end users choose names)."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def csv_lines(header: Sequence[str], batches: Iterable[Iterable[Sequence[Any]]]) -> Iterator[str]:
    """The header, then one chunk of lines per batch of rows, every cell formula-safe."""
    writer = csv.writer(Echo())
    yield writer.writerow(header)
    for batch in batches:
        yield "".join(writer.writerow([csv_cell(v) for v in row]) for row in batch)
