"""The three expression forms of a definition (docs/connector-definition.md "Expressions").

- **JSONPath** (``$.steps.fetch.output.data``), through jsonpath-ng's extended parser: one
  match gives its value, several (``[*]``) a list, none ``None``.
- **Interpolation** (``/v1/employees/${inputs.id}``): dotted names looked up in the context
  (``inputs.x``, ``credentials.x``, ``steps.<id>.output...``). A string that is one ``${...}``
  alone keeps the value's type; inside a longer string the value is formatted (and, in a
  URL path, percent-encoded by the caller).
- **JEXL** (``'{{present(inputs.status)}}'``), through pyjexl (an interpreter over its own
  grammar; Python ``eval`` is never used). ``present(x)`` and ``empty(x)`` are rewritten to
  pyjexl transforms (``(x)|present``). In ``map_fields`` the record is ``$`` (``$.status``).

A run-time failure of an expression (a missing key, a wrong type) gives ``None``; the syntax
of every expression is checked when a definition is published (``expression_problem``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Final

import pyjexl
from jsonpath_ng import JSONPath
from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext import parse as jsonpath_parse
from pyjexl.evaluator import Context, Evaluator

MAX_EXPRESSION = 2000
_INTERPOLATION: Final = re.compile(r"\$\{([^{}]*)\}")
_NAME_PART: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*|\d+")
_FUNCTIONS: Final = ("present", "empty")


class ExpressionSyntaxError(ValueError):
    pass


def is_jexl(value: str) -> bool:
    return value.startswith("{{") and value.endswith("}}")


def is_jsonpath(value: str) -> bool:
    return value == "$" or value.startswith(("$.", "$["))


def _present(value: Any) -> bool:
    return value is not None


def _empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, list | dict) and not value)


def _jexl_engine() -> pyjexl.JEXL:
    engine = pyjexl.JEXL()
    engine.add_transform("present", _present)
    engine.add_transform("empty", _empty)
    engine.add_transform("string", lambda v: "" if v is None else str(v))
    engine.add_transform("lower", lambda v: str(v).lower() if v is not None else None)
    engine.add_transform("upper", lambda v: str(v).upper() if v is not None else None)
    engine.add_transform("length", lambda v: len(v) if hasattr(v, "__len__") else None)
    return engine


_JEXL: Final = _jexl_engine()


def _closing(text: str, start: int) -> int:
    """The index of the parenthesis closing the one at ``start`` (string literals skipped)."""
    depth, index, quote = 0, start, ""
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    raise ExpressionSyntaxError("unbalanced parentheses")


def _rewrite_functions(text: str) -> str:
    """``present(a.b)`` → ``((a.b)|present)``, innermost calls included."""
    pattern = re.compile(r"\b(" + "|".join(_FUNCTIONS) + r")\s*\(")
    for _ in range(100):
        match = pattern.search(text)
        if match is None:
            return text
        open_at = match.end() - 1
        close_at = _closing(text, open_at)
        inner = _rewrite_functions(text[open_at + 1 : close_at])
        if not inner.strip():
            raise ExpressionSyntaxError(f"{match.group(1)}() needs an argument")
        text = f"{text[: match.start()]}(({inner})|{match.group(1)}){text[close_at + 1 :]}"
    raise ExpressionSyntaxError("too many function calls")


@lru_cache(maxsize=4096)
def _jexl_parsed(body: str) -> Any:
    try:
        return _JEXL.parse(_rewrite_functions(body))
    except ExpressionSyntaxError:
        raise
    except Exception as exc:  # pyjexl's ParseError and parsimonious' errors
        raise ExpressionSyntaxError("not a valid JEXL expression") from exc


@lru_cache(maxsize=4096)
def _jsonpath_parsed(text: str) -> JSONPath:
    try:
        return jsonpath_parse(text)
    except (JsonPathLexerError, JsonPathParserError, Exception) as exc:
        raise ExpressionSyntaxError("not a valid JSONPath expression") from exc


def jexl(expression: str, context: dict[str, Any]) -> Any:
    """Evaluate ``{{...}}`` (the braces included or not)."""
    body = expression[2:-2] if is_jexl(expression) else expression
    parsed = _jexl_parsed(body.strip())
    try:
        return Evaluator(_JEXL.config).evaluate(parsed, Context(context))
    except Exception:  # a missing key or a wrong type at run time: no value
        return None


_SIMPLE_PATH: Final = re.compile(r"\$((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def jsonpath(expression: str, data: Any) -> Any:
    simple = _SIMPLE_PATH.fullmatch(expression)
    if simple is not None:  # $.a.b: a plain walk gives what jsonpath-ng would, much faster
        value = data
        for part in simple.group(1)[1:].split("."):
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value
    matches = [match.value for match in _jsonpath_parsed(expression).find(data)]
    if not matches:
        return None
    if len(matches) == 1 and not _is_multi(expression):
        return matches[0]
    return matches


def _is_multi(expression: str) -> bool:
    return "[*]" in expression or ".." in expression or "[?" in expression


def lookup(name: str, context: dict[str, Any]) -> Any:
    """``steps.fetch.output.data.0.id`` in nested mappings and lists (None when missing)."""
    value: Any = context
    for part in name.strip().split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _formatted(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def interpolate(text: str, context: dict[str, Any], *, encode: Any = None) -> Any:
    """Fill ``${name}`` references; ``encode`` (e.g. URL quoting) applies to each value."""
    whole = _INTERPOLATION.fullmatch(text)
    if whole and encode is None:
        return lookup(whole.group(1), context)

    def fill(match: re.Match[str]) -> str:
        value = _formatted(lookup(match.group(1), context))
        return encode(value) if encode else value

    return _INTERPOLATION.sub(fill, text)


def evaluate(value: Any, context: dict[str, Any]) -> Any:
    """Any definition value: strings by their form, mappings and lists item by item."""
    if isinstance(value, str):
        if is_jexl(value):
            return jexl(value, context)
        if is_jsonpath(value):
            return jsonpath(value, context)
        if "${" in value:
            return interpolate(value, context)
        return value
    if isinstance(value, dict):
        return {key: evaluate(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [evaluate(item, context) for item in value]
    return value


NAMES: Final = ("inputs", "credentials", "steps")
# A customErrors message is interpolated with the provider's answer in its context too.
CUSTOM_ERROR_NAMES: Final = (*NAMES, "response", "status")


def expression_problem(value: str, names: tuple[str, ...] = NAMES) -> str | None:
    """Why a definition string is not a valid expression of its form (None when it is);
    ``names``: what an interpolation may name."""
    if len(value) > MAX_EXPRESSION:
        return f"an expression may be at most {MAX_EXPRESSION:,} characters long"
    try:
        if is_jexl(value):
            _jexl_parsed(value[2:-2].strip())
        elif is_jsonpath(value):
            _jsonpath_parsed(value)
        else:
            for match in _INTERPOLATION.finditer(value):
                name = match.group(1).strip()
                if not all(_NAME_PART.fullmatch(part) for part in name.split(".")):
                    return f"{match.group(0)} is not a dotted name such as ${{inputs.id}}"
                if name.split(".")[0] not in names:
                    allowed = ", ".join(names[:-1]) + f" and {names[-1]}"
                    return f"{match.group(0)}: only {allowed} can be named"
    except ExpressionSyntaxError as exc:
        return str(exc)
    return None
