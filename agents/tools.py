"""What an agent sees of an action: the tool's name, description, JSON Schema of its inputs
and hints. Pure functions of the definition (no database), shared by the MCP server and the
dashboard's Agent tools tab, so the tab shows exactly what the agent gets."""

from __future__ import annotations

import hashlib
from typing import Any, Final

# The protocol's tool names: 1 to 128 of A-Z a-z 0-9 _ - . (MCP specification, "Tools").
MAX_NAME: Final = 128
SEPARATOR: Final = "__"

READ_ONLY_TYPES: Final = frozenset({"list", "get"})
DESTRUCTIVE_TYPES: Final = frozenset({"delete"})

# The definition's input types as JSON Schema (the runtime's validated_inputs accepts these).
INPUT_TYPES: Final[dict[str, dict[str, Any]]] = {
    "string": {"type": "string"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "datetime_string": {"type": "string", "format": "date-time"},
    "object": {"type": "object"},
}


def tool_name(prefix: str, action_id: str) -> str:
    """``<prefix>__<actionId>``; longer than the protocol allows → its first characters, ``_``
    and 8 hex digits of a hash of the whole name (the same in every process and release)."""
    name = f"{prefix}{SEPARATOR}{action_id}"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.blake2b(name.encode(), digest_size=4).hexdigest()
    return f"{name[: MAX_NAME - len(digest) - 1]}_{digest}"


def is_read_only(action: dict[str, Any]) -> bool:
    """An action that only reads: its ``actionType`` is list or get."""
    return str(action.get("actionType") or "") in READ_ONLY_TYPES


def is_destructive(action: dict[str, Any]) -> bool:
    return str(action.get("actionType") or "") in DESTRUCTIVE_TYPES


def input_schema(action: dict[str, Any]) -> dict[str, Any]:
    """The action's inputs as a JSON Schema object: each input's type, description, enum and
    default where the definition gives them; the required ones listed; nothing else allowed
    (the runtime refuses an undeclared input)."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for spec in action.get("inputs") or []:
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            continue
        name = spec["name"]
        prop = dict(INPUT_TYPES.get(str(spec.get("type")), {}))
        if spec.get("description"):
            prop["description"] = str(spec["description"])
        if isinstance(spec.get("enum"), list):
            prop["enum"] = list(spec["enum"])
        if "default" in spec:
            prop["default"] = spec["default"]
        properties[name] = prop
        if spec.get("required"):
            required.append(name)
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return schema


def description(action: dict[str, Any], *, connection_name: str, version: str) -> str:
    """The action's label and description, and which connection and version it runs on (an
    agent holding a sandbox and a production account tells them apart by it)."""
    label = str(action.get("label") or action.get("actionId") or "").strip()
    text = str(action.get("description") or "").strip()
    if not text or text == label:
        head = label
    elif text.startswith(label):
        head = text
    else:
        head = f"{label}. {text}"
    return f"{head} (connection “{connection_name}”, version {version})"
