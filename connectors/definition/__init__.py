"""Parsing and validation of connector definitions (docs/connector-definition.md).

``parse_definition`` takes the main file and its partial files as bytes and returns a
``ParsedDefinition`` or raises ``DefinitionError`` carrying every problem found, each with its
place (``actions[2].inputs[0].in``, ``files[deals.yaml]``).

Stages, each of which stops the parse when it finds errors:

1. sizes (413, before anything is decoded), file names, strict UTF-8, safe YAML (``files``,
   ``yaml_loader``);
2. splicing of ``$ref`` partials (``partials``);
3. JSON Schema (shapes) plus the semantic rules that span several places (``validation``).
"""

from .errors import DefinitionError, FieldError
from .limits import (
    MAX_ACTIONS,
    MAX_DEPTH,
    MAX_FIELDS,
    MAX_FILE_BYTES,
    MAX_INPUTS_PER_ACTION,
    MAX_PUSH_BYTES,
    MAX_SPLICED_NODES,
    MAX_STEPS_PER_ACTION,
    MAX_YAML_NODES,
)
from .parser import ParsedDefinition, parse_definition
from .validation import RESERVED_VERSION_NAMES

__all__ = [
    "MAX_ACTIONS",
    "MAX_DEPTH",
    "MAX_FIELDS",
    "MAX_FILE_BYTES",
    "MAX_INPUTS_PER_ACTION",
    "MAX_PUSH_BYTES",
    "MAX_SPLICED_NODES",
    "MAX_STEPS_PER_ACTION",
    "MAX_YAML_NODES",
    "RESERVED_VERSION_NAMES",
    "DefinitionError",
    "FieldError",
    "ParsedDefinition",
    "parse_definition",
]
