"""An action's inputs, checked against its declared input fields."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .run import ActionFailure

MAX_INPUT_TEXT = 10_000


def _input_value(kind: str, value: Any) -> Any:
    """The value as its declared type, or raise ValueError."""
    if kind in ("string", "datetime_string"):
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValueError("must be a string")
        text = str(value)
        if len(text) > MAX_INPUT_TEXT:
            raise ValueError(f"must be at most {MAX_INPUT_TEXT:,} characters long")
        if any(ord(c) < 32 and c not in "\t\n" for c in text):
            raise ValueError("must not hold control characters")
        if kind == "datetime_string":
            try:
                datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError as exc:
                raise ValueError("must be an ISO 8601 date or date-time") from exc
        return text
    if kind == "number":
        if isinstance(value, bool):
            raise ValueError("must be a number")
        if isinstance(value, int | float):
            return value
        try:
            number = float(str(value))
        except ValueError as exc:
            raise ValueError("must be a number") from exc
        return int(number) if number.is_integer() else number
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "1", "yes"):
            return True
        if str(value).lower() in ("false", "0", "no"):
            return False
        raise ValueError("must be true or false")
    if kind == "object":
        if not isinstance(value, dict):
            raise ValueError("must be an object")
        return value
    return value


def validated_inputs(action: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The action's inputs, typed; 400 ``invalid_inputs`` naming each ``inputs.<name>``."""
    declared = {i["name"]: i for i in action.get("inputs") or [] if isinstance(i, dict)}
    problems: list[dict[str, str]] = []
    values: dict[str, Any] = {}
    for name in given:
        if name not in declared:
            problems.append(
                {"field": f"inputs.{name}", "message": "is not an input of this action"}
            )
    for name, spec in declared.items():
        value = given.get(name)
        if value is None or value == "":
            if spec.get("required"):
                problems.append({"field": f"inputs.{name}", "message": "is required"})
            continue
        try:
            values[name] = _input_value(str(spec.get("type")), value)
        except ValueError as exc:
            problems.append({"field": f"inputs.{name}", "message": str(exc)})
    if problems:
        raise ActionFailure(400, "invalid_inputs", "The inputs are not valid.", fields=problems)
    return values
