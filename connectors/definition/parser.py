"""The entry point: ``parse_definition`` runs the stages and returns a ``ParsedDefinition``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import DefinitionError, FieldError, raise_errors
from .files import check_sizes, read_files
from .partials import splice
from .validation import limit_errors, schema_errors, semantic_errors, text_errors


@dataclass(frozen=True)
class ParsedDefinition:
    key: str
    version: str
    title: str
    description: str
    icon: str
    definition: dict[str, Any]
    source_files: dict[str, str]


def parse_definition(files: Sequence[tuple[str, bytes]]) -> ParsedDefinition:
    """Parse and validate a definition. ``files[0]`` is the main file, the rest are partials.

    Raises ``DefinitionError`` (status 413 for a size limit, else 400) listing every problem.
    """
    files = list(files)
    if not files:
        raise DefinitionError(
            "No definition file was sent.",
            [FieldError("files", "the main definition file is required")],
        )
    check_sizes(files)
    loaded = read_files(files)
    main, partials = loaded[0], loaded[1:]
    definition = splice(main, partials)
    raise_errors(limit_errors(definition))
    raise_errors(text_errors(definition))
    raise_errors(schema_errors(definition) + semantic_errors(definition))

    info: dict[str, Any] = definition["info"]
    assets = info.get("assets")
    icon = assets.get("icon", "") if isinstance(assets, dict) else ""
    return ParsedDefinition(
        key=info["key"],
        version=info["version"],
        title=info["title"],
        description=info.get("description", ""),
        icon=icon if isinstance(icon, str) else "",
        definition=definition,
        source_files={item.name: item.text for item in loaded},
    )
