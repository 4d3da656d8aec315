"""The pushed files: sizes (before anything is decoded), names, strict UTF-8, safe YAML."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Final

import yaml

from .errors import DefinitionError, FieldError, file_place, raise_errors
from .limits import MAX_DEPTH, MAX_FILE_BYTES, MAX_PUSH_BYTES
from .yaml_loader import load_yaml, yaml_error_message

PARTIAL_SUFFIXES: Final = (".yaml", ".yml")


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def check_sizes(files: Sequence[tuple[str, bytes]]) -> None:
    too_big = [
        FieldError(
            file_place(name),
            f"is {_mib(len(data))}; a file may be at most {_mib(MAX_FILE_BYTES)}",
        )
        for name, data in files
        if len(data) > MAX_FILE_BYTES
    ]
    if too_big:
        big = [name for name, data in files if len(data) > MAX_FILE_BYTES]
        what = f"{big[0]} is" if len(big) == 1 else f"{len(big)} files are"
        raise DefinitionError(
            f"{what} larger than the {_mib(MAX_FILE_BYTES)} limit per file.",
            too_big,
            status=413,
        )
    total = 0
    for name, data in files:
        total += len(data)
        if total > MAX_PUSH_BYTES:
            raise DefinitionError(
                f"The push is larger than {_mib(MAX_PUSH_BYTES)}.",
                [
                    FieldError(
                        file_place(name),
                        f"brings the push to more than {_mib(MAX_PUSH_BYTES)} "
                        f"({_mib(sum(len(d) for _, d in files))} in all)",
                    )
                ],
                status=413,
            )


def partial_name(filename: str) -> str | None:
    """The name a partial file answers to: ``acme-crm.deals.yml`` → ``acme_crm.deals``;
    None when the file name does not end in .yaml / .yml."""
    base = PurePosixPath(filename).name
    for suffix in PARTIAL_SUFFIXES:
        if base.endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)].replace("-", "_")
    return None


@dataclass
class SourceFile:
    name: str
    text: str = ""
    data: Any = None


def read_files(files: Sequence[tuple[str, bytes]]) -> list[SourceFile]:
    errors: list[FieldError] = []
    seen: set[str] = set()
    loaded: list[SourceFile] = []
    for position, (name, raw) in enumerate(files):
        place = file_place(name)
        if not name:
            errors.append(FieldError(place, "a file needs a name"))
        elif name in seen:
            errors.append(FieldError(place, "two files have this name"))
        seen.add(name)
        if position > 0 and partial_name(name) is None:
            errors.append(FieldError(place, "a partial file name must end in .yaml or .yml"))
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            errors.append(FieldError(place, f"is not valid UTF-8 (byte {exc.start})"))
            continue
        text = text.removeprefix("\ufeff")
        try:
            data = load_yaml(text)
        except yaml.YAMLError as exc:
            errors.append(FieldError(place, yaml_error_message(exc)))
            continue
        except RecursionError:
            errors.append(FieldError(place, f"nesting is deeper than {MAX_DEPTH} levels"))
            continue
        if position == 0 and not isinstance(data, dict):
            errors.append(
                FieldError(place, "the main file must be a YAML mapping (info, baseUrl, ...)")
            )
        elif position > 0 and not isinstance(data, dict | list):
            errors.append(FieldError(place, "a partial file must hold a YAML list or mapping"))
        loaded.append(SourceFile(name, text, data))
    raise_errors(errors)
    return loaded
