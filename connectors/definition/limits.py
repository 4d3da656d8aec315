"""Size and nesting limits of a definition push, checked before and while it is parsed."""

from __future__ import annotations

MAX_FILE_BYTES = 1024 * 1024
MAX_PUSH_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 64

# Splicing the same partial many times could multiply the size of a definition (the partial
# version of an alias bomb); no real connector comes near this many values.
MAX_SPLICED_NODES = 250_000
