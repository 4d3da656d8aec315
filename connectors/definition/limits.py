"""Size and nesting limits of a definition push, checked before and while it is parsed."""

from __future__ import annotations

MAX_FILE_BYTES = 1024 * 1024
MAX_PUSH_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 64

# Work bounds (docs/connector-definition.md "Limits"): a push costs at most a few tenths of a
# second of CPU however it is built. Values (scalars, lists, mappings) per file, counted while
# the YAML is composed, so parsing stops at the limit:
MAX_YAML_NODES = 60_000
# Per definition, checked before the JSON Schema runs:
MAX_ACTIONS = 500
MAX_INPUTS_PER_ACTION = 100
MAX_STEPS_PER_ACTION = 100
MAX_FIELDS = 100  # setupFields and configFields together

# Splicing the same partial many times could multiply the size of a definition (the partial
# version of an alias bomb); no real connector comes near this many values.
MAX_SPLICED_NODES = 120_000
