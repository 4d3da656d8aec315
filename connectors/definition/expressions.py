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

A definition is untrusted code, so every evaluation is bounded (docs/connector-definition.md
"Budgets"): the operators that can build a huge value (``^``, ``*``, ``+`` and, in JSONPath's
arithmetic, the same) refuse a result over ``MAX_POWER_BITS`` or ``MAX_VALUE_SIZE``, ``%`` is
arithmetic only, and while a ``Budget`` is active (``budget_active``, set by the runtime for one
action) each JEXL node evaluated and each JSONPath node visited is one step charged to it: over
its steps or its CPU time, ``ExpressionBudgetExceeded`` is raised from inside the evaluator, so
the work stops there (no thread is killed). What is unbounded whatever the data (a literal
power over the bound, a regular expression in a JSONPath) is refused when published.

How the JSONPath steps are counted leans on jsonpath-ng's implementation: every node of a
parsed path has its ``find`` replaced, on that instance, by one that charges a step, which
counts because the library calls its children's ``find`` through the instance (``Descendants``
once per node it visits, ``Filter`` once per candidate). ``Operation.op`` (arithmetic) is
replaced by the bounded operators. tests/runtime/test_budget.py fails loudly if an upgrade
changes either; bench/runtime.py measures the cost.
"""

from __future__ import annotations

import operator
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any, Final

import pyjexl
from jsonpath_ng import JSONPath
from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext import parse as jsonpath_parse
from jsonpath_ng.ext.arithmetic import Operation
from jsonpath_ng.ext.filter import Expression as FilterComparison
from jsonpath_ng.ext.string import Sub
from jsonpath_ng.jsonpath import Child, Fields, Root
from pyjexl.evaluator import Context, Evaluator
from pyjexl.parser import BinaryExpression, FilterExpression, Identifier, Literal

MAX_EXPRESSION = 2000
_INTERPOLATION: Final = re.compile(r"\$\{([^{}]*)\}")
_NAME_PART: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*|\d+")
_FUNCTIONS: Final = ("present", "empty")


# The largest integer a power may give, and the longest string or list ``+`` and ``*`` may
# build (characters or items): beyond them the evaluation is over its budget.
MAX_POWER_BITS: Final = 4096
MAX_VALUE_SIZE: Final = 1_000_000
# How often (in steps) the CPU clock is read: reading it costs ~0.4 µs.
_CLOCK_EVERY: Final = 32


class ExpressionSyntaxError(ValueError):
    pass


class ExpressionBudgetExceeded(Exception):
    """An evaluation went over its budget; ``reason`` says which bound."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Budget:
    """The steps and the CPU time (of this thread) the expressions of one action may use.

    ``pause``/``resume`` leave out the time spent elsewhere (the provider calls and decoding
    their answers are bounded by their own limits)."""

    def __init__(self, *, max_steps: int, max_seconds: float) -> None:
        self.max_steps = max_steps
        self.max_seconds = max_seconds
        self.steps = 0
        self.exceeded = ""
        self._spent = 0.0
        self._since: float | None = time.thread_time()

    def seconds(self) -> float:
        running = time.thread_time() - self._since if self._since is not None else 0.0
        return self._spent + running

    def pause(self) -> None:
        if self._since is not None:
            self._spent += time.thread_time() - self._since
            self._since = None

    def resume(self) -> None:
        if self._since is None:
            self._since = time.thread_time()

    def fail(self, reason: str) -> None:
        self.exceeded = self.exceeded or reason
        raise ExpressionBudgetExceeded(self.exceeded)

    def charge(self, steps: int = 1) -> None:
        """One step (or ``steps``) more; raises once over a bound (and again on every later
        charge, should a library have swallowed the first)."""
        if self.exceeded:
            raise ExpressionBudgetExceeded(self.exceeded)
        before = self.steps
        self.steps += steps
        if self.steps > self.max_steps:
            self.fail(f"more than {self.max_steps:,} evaluation steps")
        if before // _CLOCK_EVERY != self.steps // _CLOCK_EVERY or steps > 1:
            self.check_time()

    def check_time(self) -> None:
        if self.exceeded:
            raise ExpressionBudgetExceeded(self.exceeded)
        if self.seconds() > self.max_seconds:
            self.fail(f"more than {round(self.max_seconds * 1000):,} ms of CPU time")


_budget: ContextVar[Budget | None] = ContextVar("expression_budget", default=None)


@contextmanager
def budget_active(budget: Budget) -> Iterator[Budget]:
    """Charge every evaluation in this block (this thread or task) to ``budget``."""
    token = _budget.set(budget)
    try:
        yield budget
    finally:
        _budget.reset(token)


def charge(steps: int = 1) -> None:
    budget = _budget.get()
    if budget is not None:
        budget.charge(steps)


# --- Bounded operators ------------------------------------------------------------------------


def _over(reason: str) -> None:
    budget = _budget.get()
    if budget is not None:
        budget.fail(reason)
    raise ExpressionBudgetExceeded(reason)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int)


def _power(base: Any, exponent: Any) -> Any:
    big = _is_integer(base) and _is_integer(exponent) and exponent > 0 and abs(base) > 1
    if big and base.bit_length() * exponent > MAX_POWER_BITS:
        _over(f"a power over {MAX_POWER_BITS:,} bits")
    return operator.pow(base, exponent)


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, str | bytes | list | tuple) else None


def _times(left: Any, right: Any) -> Any:
    for sequence, count in ((left, right), (right, left)):
        size = _size(sequence)
        if size is not None and _is_integer(count) and size * count > MAX_VALUE_SIZE:
            _over(f"a value over {MAX_VALUE_SIZE:,} characters or items")
    return operator.mul(left, right)


def _plus(left: Any, right: Any) -> Any:
    sizes = (_size(left), _size(right))
    if None not in sizes and sum(s or 0 for s in sizes) > MAX_VALUE_SIZE:
        _over(f"a value over {MAX_VALUE_SIZE:,} characters or items")
    return operator.add(left, right)


def _modulo(left: Any, right: Any) -> Any:
    """Arithmetic only: Python's ``str % x`` (formatting) could build any size of string."""
    if not all(isinstance(v, int | float) for v in (left, right)):
        raise TypeError("% takes numbers")
    return operator.mod(left, right)


ROOTS: Final = ("inputs", "credentials", "steps")
# A customErrors message is filled with the provider's answer too.
ERROR_MESSAGE_ROOTS: Final = (*ROOTS, "response", "status")


def _listed(names: tuple[str, ...]) -> str:
    return ", ".join(names[:-1]) + " and " + names[-1]


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
    # The same symbols and precedences as pyjexl's defaults, bounded.
    engine.add_binary_operator("^", 50, _power)
    engine.add_binary_operator("*", 40, _times)
    engine.add_binary_operator("+", 30, _plus)
    engine.add_binary_operator("%", 50, _modulo)
    engine.add_transform("present", _present)
    engine.add_transform("empty", _empty)
    engine.add_transform("string", lambda v: "" if v is None else str(v))
    engine.add_transform("lower", lambda v: str(v).lower() if v is not None else None)
    engine.add_transform("upper", lambda v: str(v).upper() if v is not None else None)
    engine.add_transform("length", lambda v: len(v) if hasattr(v, "__len__") else None)
    return engine


_JEXL: Final = _jexl_engine()


class _ChargedEvaluator(Evaluator):
    """pyjexl's evaluator, one step charged per node evaluated (operands, transforms' subjects
    and arguments, and each item a filter visits all come back through ``evaluate``)."""

    def evaluate(self, expression: Any, context: Any = None) -> Any:
        charge()
        return super().evaluate(expression, context)


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
        parsed = jsonpath_parse(text)
    except (JsonPathLexerError, JsonPathParserError, Exception) as exc:
        raise ExpressionSyntaxError("not a valid JSONPath expression") from exc
    for node in jsonpath_nodes(parsed):
        _instrument(node)
    return parsed


def jsonpath_nodes(root: JSONPath) -> Iterator[JSONPath]:
    """Every node of a parsed JSONPath (its attributes that are nodes, or lists of them)."""
    stack: list[Any] = [root]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if not isinstance(node, JSONPath) or id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        for value in vars(node).values():
            if isinstance(value, JSONPath):
                stack.append(value)
            elif isinstance(value, list | tuple):
                stack.extend(value)


_REGEX_REFUSED: Final = (
    "a regular expression in a JSONPath (=~ or `sub()`) is not allowed: its backtracking "
    "cannot be bounded"
)


def _is_regex(node: JSONPath) -> bool:
    return isinstance(node, Sub) or (
        isinstance(node, FilterComparison) and getattr(node, "op", None) == "=~"
    )


def _instrument(node: JSONPath) -> None:
    """Charge a step on each ``find`` of this node; bounded arithmetic; no regular
    expression (a version published before that rule gets over its budget instead)."""
    find = node.find
    if _is_regex(node):

        def refused(datum: Any) -> Any:
            _over(_REGEX_REFUSED)

        node.find = refused  # type: ignore[method-assign,assignment]
        return

    def charged(datum: Any) -> Any:
        charge()
        return find(datum)

    node.find = charged  # type: ignore[method-assign,assignment]
    if isinstance(node, Operation):
        bounded: dict[str, Callable[[Any, Any], Any]] = {"*": _times, "+": _plus}
        node.op = bounded.get(node.op_symbol, node.op)


def jexl(expression: str, context: dict[str, Any]) -> Any:
    """Evaluate ``{{...}}`` (the braces included or not)."""
    body = expression[2:-2] if is_jexl(expression) else expression
    parsed = _jexl_parsed(body.strip())
    try:
        return _ChargedEvaluator(_JEXL.config).evaluate(parsed, Context(context))
    except ExpressionBudgetExceeded:
        raise
    except Exception:  # a missing key or a wrong type at run time: no value
        return None


_SIMPLE_PATH: Final = re.compile(r"\$((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def jsonpath(expression: str, data: Any) -> Any:
    simple = _SIMPLE_PATH.fullmatch(expression)
    if simple is not None:  # $.a.b: a plain walk gives what jsonpath-ng would, much faster
        value = data  # (a few steps, fixed by the expression: not charged)
        for part in simple.group(1)[1:].split("."):
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value
    try:
        matches = [match.value for match in _jsonpath_parsed(expression).find(data)]
    except ExpressionBudgetExceeded:
        raise
    except Exception:  # a wrong type inside an extension (`sorted`, arithmetic): no value
        matches = []
    budget = _budget.get()
    if budget is not None and budget.exceeded:  # raised inside, and swallowed by the library
        raise ExpressionBudgetExceeded(budget.exceeded)
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


def expression_problem(value: str, *, roots: tuple[str, ...] = ROOTS) -> str | None:
    """Why a definition string is not a valid expression of its form, or is unbounded
    whatever the data (None when it is fine); an interpolation names one of ``roots``."""
    if len(value) > MAX_EXPRESSION:
        return f"an expression may be at most {MAX_EXPRESSION:,} characters long"
    try:
        if is_jexl(value):
            return _unbounded_power(_jexl_parsed(value[2:-2].strip()))
        elif is_jsonpath(value):
            if any(_is_regex(node) for node in jsonpath_nodes(_jsonpath_parsed(value))):
                return _REGEX_REFUSED
        else:
            for match in _INTERPOLATION.finditer(value):
                name = match.group(1).strip()
                if not all(_NAME_PART.fullmatch(part) for part in name.split(".")):
                    return f"{match.group(0)} is not a dotted name such as ${{inputs.id}}"
                if name.split(".")[0] not in roots:
                    return f"{match.group(0)}: only {_listed(roots)} can be named"
    except ExpressionSyntaxError as exc:
        return str(exc)
    return None


# --- What an expression reads (checked when published) ----------------------------------------


def jexl_nodes(root: Any) -> Iterator[Any]:
    """Every node of a parsed JEXL expression (pyjexl's nodes list their ``fields``)."""
    stack = [root]
    while stack:
        node = stack.pop()
        fields = getattr(type(node), "fields", None)
        if fields is None:
            continue
        yield node
        for name in fields:
            if name in ("parent", "operator"):
                continue
            value = getattr(node, name, None)
            if isinstance(value, dict):
                stack.extend(value.values())
            elif isinstance(value, list | tuple):
                stack.extend(value)
            else:
                stack.append(value)


def _unbounded_power(parsed: Any) -> str | None:
    """A power whose exponent is a literal over the bound for any base but -1, 0 and 1 (or,
    with a literal base, whose result is over ``MAX_POWER_BITS``)."""
    for node in jexl_nodes(parsed):
        if not isinstance(node, BinaryExpression) or node.operator.symbol != "^":
            continue
        right, left = node.right, node.left
        if not (isinstance(right, Literal) and _is_integer(right.value) and right.value > 0):
            continue
        if isinstance(left, Literal) and _is_integer(left.value):
            bits = abs(left.value).bit_length() * right.value if abs(left.value) > 1 else 0
        else:
            bits = 2 * right.value
        if bits > MAX_POWER_BITS:
            return (
                f"a power over {MAX_POWER_BITS:,} bits (an exponent of at most "
                f"{MAX_POWER_BITS // 2:,} for any base)"
            )
    return None


WHOLE: Final = "*"


def credential_names(value: str) -> list[str]:
    """The ``credentials`` fields a string names, read as the expression it is: ``api_key``
    for ``${credentials.api_key}``, ``credentials.api_key`` (JEXL) or
    ``$.credentials.api_key`` (JSONPath over the context); ``WHOLE`` for the object as a
    whole (``$.credentials``, ``{{credentials}}``, ``credentials[expression]``)."""
    try:
        if is_jexl(value):
            return _jexl_credentials(_jexl_parsed(value[2:-2].strip()))
        if is_jsonpath(value):
            return _jsonpath_credentials(_jsonpath_parsed(value))
    except ExpressionSyntaxError:
        return []
    names = []
    for match in _INTERPOLATION.finditer(value):
        parts = match.group(1).strip().split(".")
        if parts[0] == "credentials":
            names.append(parts[1] if len(parts) > 1 else WHOLE)
    return names


def _jexl_credentials(parsed: Any) -> list[str]:
    def is_root(node: Any) -> bool:
        return (
            isinstance(node, Identifier)
            and node.value == "credentials"
            and node.subject is None
            and not node.relative
        )

    named: set[int] = set()
    names: list[str] = []
    for node in jexl_nodes(parsed):
        if isinstance(node, Identifier) and is_root(node.subject) and not node.relative:
            names.append(str(node.value))
            named.add(id(node.subject))
        elif (
            isinstance(node, FilterExpression)
            and is_root(node.subject)
            and isinstance(node.expression, Literal)
            and isinstance(node.expression.value, str)
        ):
            names.append(node.expression.value)
            named.add(id(node.subject))
    for node in jexl_nodes(parsed):
        if is_root(node) and id(node) not in named:
            names.append(WHOLE)
    return names


def _jsonpath_credentials(parsed: JSONPath) -> list[str]:
    """``$.credentials...`` only: the first step from the root (a path over a provider's data
    elsewhere may well have its own ``credentials`` key)."""
    chain: list[JSONPath] = []
    node: Any = parsed
    while isinstance(node, Child):
        chain.append(node.right)
        node = node.left
    if not isinstance(node, Root) or not chain:
        return []
    chain.reverse()
    first = chain[0]
    if not (isinstance(first, Fields) and "credentials" in first.fields):
        return []
    if len(first.fields) > 1:
        return [WHOLE]
    after = chain[1] if len(chain) > 1 else None
    if isinstance(after, Fields) and "*" not in after.fields:
        return [str(name) for name in after.fields]
    return [WHOLE]
