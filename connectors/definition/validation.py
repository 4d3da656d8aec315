"""Validation of a spliced definition: JSON Schema (shapes) plus the semantic rules that span
several places (uniqueness, semver, URLs, ``${credentials.<key>}`` references, where a secret
may be named, header names and values)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final, cast
from urllib.parse import urlsplit

import semver
from jsonschema import Draft202012Validator, ValidationError, validators

from core.validation import text_problem

from ..definition_schema import DEFINITION_SCHEMA, HEADER_NAME_PATTERN, PATTERN_DESCRIPTIONS
from ..versioning import parse_version
from .errors import FieldError, PathPart, format_place
from .expressions import (
    ERROR_MESSAGE_ROOTS,
    ROOTS,
    WHOLE,
    credential_names,
    expression_problem,
    is_jexl,
    is_jsonpath,
)
from .limits import MAX_ACTIONS, MAX_FIELDS, MAX_INPUTS_PER_ACTION, MAX_STEPS_PER_ACTION

RESERVED_VERSION_NAMES = frozenset({"latest", "default", "latest_builtin", "latest_custom"})
_CREDENTIAL_PATTERN: Final = re.compile(r"\$\{([^{}]*)\}")
_CREDENTIAL_NAME_PATTERN: Final = re.compile(r"credentials\.([A-Za-z0-9_]+)")

_TYPE_WORDS: Final = {
    "string": "a string",
    "object": "a mapping",
    "array": "a list",
    "boolean": "true or false",
    "integer": "an integer",
    "number": "a number",
    "null": "null",
}


def _required(
    validator: Any, required: list[str], instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for name in required:
        if name not in instance:
            yield ValidationError("is required", path=[name])


def _additional_properties(
    validator: Any, additional: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if additional is not False:
        yield from Draft202012Validator.VALIDATORS["additionalProperties"](
            validator, additional, instance, schema
        )
        return
    if not validator.is_type(instance, "object"):
        return
    known = list(schema.get("properties", {}))
    for name in instance:
        if name in known:
            continue
        message = "unknown key"
        close = difflib.get_close_matches(str(name), known, n=1)
        if close:
            message += f" (did you mean {close[0]!r}?)"
        yield ValidationError(message, path=[name])


_DefinitionValidator = validators.extend(
    Draft202012Validator,
    {"required": _required, "additionalProperties": _additional_properties},
)
_VALIDATOR = _DefinitionValidator(DEFINITION_SCHEMA)


def _schema_message(error: ValidationError) -> str:
    kind, expected = error.validator, error.validator_value
    expected = cast(Any, expected)
    if kind in {"required", "additionalProperties"}:
        return error.message
    if kind == "type":
        return f"must be {_TYPE_WORDS.get(str(expected), str(expected))}"
    if kind == "enum":
        return f"must be one of: {', '.join(map(str, expected))} (not {error.instance!r})"
    if kind == "pattern":
        return f"must be {PATTERN_DESCRIPTIONS.get(str(expected), f'like {expected}')}"
    if kind == "minLength" and expected == 1:
        return "must not be empty"
    if kind == "minItems" and expected == 1:
        return "must not be empty"
    if kind == "maxLength":
        return f"must be at most {expected} characters long"
    if kind == "minimum":
        return f"must be at least {expected}"
    if kind == "maximum":
        return f"must be at most {expected}"
    return error.message


def limit_errors(definition: dict[str, Any]) -> list[FieldError]:
    """The work bounds (docs/connector-definition.md "Limits"), checked before the schema so
    that an oversized definition costs almost nothing to refuse."""
    errors: list[FieldError] = []
    actions = definition.get("actions")
    if isinstance(actions, list):
        if len(actions) > MAX_ACTIONS:
            return [
                FieldError(
                    "actions",
                    f"a definition may have at most {MAX_ACTIONS:,} actions "
                    f"(this one has {len(actions):,})",
                )
            ]
        for index, action in _dicts(actions):
            for name, limit in (("inputs", MAX_INPUTS_PER_ACTION), ("steps", MAX_STEPS_PER_ACTION)):
                items = action.get(name)
                if isinstance(items, list) and len(items) > limit:
                    errors.append(
                        FieldError(
                            f"actions[{index}].{name}",
                            f"an action may have at most {limit:,} {name} "
                            f"(this one has {len(items):,})",
                        )
                    )
    auth = definition.get("authentication")
    if isinstance(auth, dict):
        count = sum(
            len(auth[kind])
            for kind in ("setupFields", "configFields")
            if isinstance(auth.get(kind), list)
        )
        if count > MAX_FIELDS:
            errors.append(
                FieldError(
                    "authentication",
                    f"a definition may have at most {MAX_FIELDS:,} setupFields and configFields "
                    f"together (this one has {count:,})",
                )
            )
    return errors


# Strings under these keys are one line: names, labels, URLs, paths and header names (no
# line breaks, no bidi overrides); every other string (descriptions, tooltips, steps) may
# hold tabs and newlines. No string, and no mapping key, may hold another control character.
SINGLE_LINE_KEYS: Final = frozenset(
    {
        "actionId",
        "authorizationUrl",
        "baseUrl",
        "entrypointUrl",
        "headerName",
        "icon",
        "key",
        "label",
        "name",
        "path",
        "placeholder",
        "title",
        "tokenUrl",
        "url",
        "version",
    }
)
MAX_TEXT_ERRORS = 20


def text_errors(definition: dict[str, Any]) -> list[FieldError]:
    """Control and bidi characters in any string value or key, with its place."""
    errors: list[FieldError] = []
    stack: list[tuple[Any, list[PathPart]]] = [(definition, [])]
    while stack and len(errors) < MAX_TEXT_ERRORS:
        node, path = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                problem = text_problem(str(key))
                if problem is not None:
                    errors.append(FieldError(format_place(path), f"a key {problem}"))
                    continue
                stack.append((value, [*path, key]))
        elif isinstance(node, list):
            stack.extend((item, [*path, index]) for index, item in enumerate(node))
        elif isinstance(node, str):
            single = bool(path) and path[-1] in SINGLE_LINE_KEYS
            problem = text_problem(node, multiline=not single)
            if problem is not None:
                errors.append(FieldError(format_place(path), problem))
    return errors


RESERVED_HEADER_NAMES: Final = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "cookie"}
)


def schema_errors(definition: dict[str, Any]) -> list[FieldError]:
    return [
        FieldError(format_place(list(error.absolute_path)), _schema_message(error))
        for error in _VALIDATOR.iter_errors(definition)
    ]


def is_http_url(value: str) -> bool:
    if not value or any(char.isspace() for char in value):
        return False
    try:
        parts = urlsplit(value)
        hostname = parts.hostname
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and bool(hostname)


MAX_ICON_DATA_URI = 64 * 1024
ICON_DATA_URI = re.compile(r"^data:image/(png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/]+={0,2}$")


def _check_icon(errors: list[FieldError], place: str, value: Any) -> None:
    """An http(s) URL, or a small base64 data:image URI (shown offline; CSP allows data:)."""
    if not isinstance(value, str) or is_http_url(value):
        return
    if value.startswith("data:"):
        if len(value) > MAX_ICON_DATA_URI:
            errors.append(
                FieldError(place, f"a data: icon may be at most {MAX_ICON_DATA_URI:,} bytes")
            )
        elif not ICON_DATA_URI.match(value):
            errors.append(
                FieldError(place, "must be a base64 data:image/(png|jpeg|gif|webp|svg+xml) URI")
            )
        return
    errors.append(FieldError(place, "must be an http(s) URL or a data:image URI"))


def _dicts(value: Any) -> list[tuple[int, dict[str, Any]]]:
    """The mapping items of a list (with their index); nothing when it is not a list."""
    if not isinstance(value, list):
        return []
    return [(index, item) for index, item in enumerate(value) if isinstance(item, dict)]


def _check_version(version: Any) -> list[FieldError]:
    if not isinstance(version, str):
        return []  # the schema reports it
    place = "info.version"
    if version in RESERVED_VERSION_NAMES:
        return [FieldError(place, f"{version!r} is a reserved name, not a version")]
    try:
        parsed = semver.Version.parse(version)
    except ValueError:
        return [FieldError(place, f"{version!r} is not a semantic version such as 1.2.0")]
    if parsed.build is not None:
        return [FieldError(place, f"build metadata (+{parsed.build}) is not allowed")]
    try:
        parse_version(version)  # the storage limits: components below 2^63, short identifiers
    except ValueError as exc:
        return [FieldError(place, str(exc))]
    return []


def _check_url(errors: list[FieldError], place: str, value: Any) -> None:
    if isinstance(value, str) and not is_http_url(value):
        errors.append(FieldError(place, "must be an http(s) URL"))


def _check_unique(
    errors: list[FieldError],
    items: list[tuple[str, Any]],
    what: str,
) -> None:
    first: dict[Any, str] = {}
    for place, value in items:
        if not isinstance(value, str):
            continue
        if value in first:
            errors.append(FieldError(place, f"duplicate {what} {value!r} (also at {first[value]})"))
        else:
            first[value] = place


def semantic_errors(definition: dict[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    info = definition.get("info")
    if isinstance(info, dict):
        errors += _check_version(info.get("version"))
        assets = info.get("assets")
        if isinstance(assets, dict):
            _check_icon(errors, "info.assets.icon", assets.get("icon"))

    auth = definition.get("authentication")
    auth = auth if isinstance(auth, dict) else {}
    field_keys: list[tuple[str, Any]] = [
        (f"authentication.{kind}[{index}].key", item.get("key"))
        for kind in ("setupFields", "configFields")
        for index, item in _dicts(auth.get(kind))
    ]
    _check_unique(errors, field_keys, "field key")
    if auth.get("type") == "oauth2":
        errors += [
            FieldError(f"authentication.{name}", "is required when type is oauth2")
            for name in ("authorizationUrl", "tokenUrl")
            if name not in auth
        ]
    for name in ("authorizationUrl", "tokenUrl"):
        _check_url(errors, f"authentication.{name}", auth.get(name))
    header_name = auth.get("headerName")
    if isinstance(header_name, str) and header_name.lower() in RESERVED_HEADER_NAMES:
        errors.append(
            FieldError(
                "authentication.headerName",
                f"{header_name} is set by the HTTP client and cannot carry the key",
            )
        )
    scopes = auth.get("scopes")
    if isinstance(scopes, list):
        _check_unique(
            errors,
            [(f"authentication.scopes[{index}]", scope) for index, scope in enumerate(scopes)],
            "scope",
        )

    base_url = definition.get("baseUrl")
    if isinstance(base_url, str):
        known = {key for _, key in field_keys if isinstance(key, str)}
        for match in _CREDENTIAL_PATTERN.finditer(base_url):
            credential = _CREDENTIAL_NAME_PATTERN.fullmatch(match.group(1).strip())
            if credential is None:
                errors.append(
                    FieldError(
                        "baseUrl", f"{match.group(0)}: only ${{credentials.<key>}} is allowed"
                    )
                )
            elif credential.group(1) not in known:
                errors.append(
                    FieldError(
                        "baseUrl",
                        f"{match.group(0)} names no setupFields or configFields key",
                    )
                )
        _check_url(errors, "baseUrl", _CREDENTIAL_PATTERN.sub("placeholder", base_url))

    actions = _dicts(definition.get("actions"))
    _check_unique(
        errors,
        [(f"actions[{index}].actionId", action.get("actionId")) for index, action in actions],
        "actionId",
    )
    action_ids = {a.get("actionId") for _, a in actions if isinstance(a.get("actionId"), str)}
    resources = definition.get("resources")
    if isinstance(resources, dict):
        for kind, action_id in resources.items():
            if isinstance(action_id, str) and action_id not in action_ids:
                errors.append(FieldError(f"resources.{kind}", f"names no action ({action_id!r})"))
    fields = _Fields(
        declared={key for _, key in field_keys if isinstance(key, str)},
        secret={
            item["key"]
            for kind in ("setupFields", "configFields")
            for _, item in _dicts(auth.get(kind))
            if item.get("secret") is True and isinstance(item.get("key"), str)
        },
    )
    for index, action in actions:
        errors += step_errors(f"actions[{index}]", action, fields)
        errors += header_errors(f"actions[{index}]", action)
        _check_url(errors, f"actions[{index}].context", action.get("context"))
        _check_unique(
            errors,
            [
                (f"actions[{index}].inputs[{position}].name", item.get("name"))
                for position, item in _dicts(action.get("inputs"))
            ],
            "input name",
        )
    return errors


_STEP_REFERENCE: Final = re.compile(r"\bsteps\.([A-Za-z][A-Za-z0-9_]*)")
_INPUT_REFERENCE: Final = re.compile(r"\binputs\.([A-Za-z_][A-Za-z0-9_]*)")
MAX_EXPRESSION_ERRORS = 20


def _strings(node: Any, path: list[PathPart]) -> Iterator[tuple[list[PathPart], str]]:
    stack: list[tuple[Any, list[PathPart]]] = [(node, path)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, dict):
            stack.extend((item, [*where, key]) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, [*where, n]) for n, item in enumerate(value))
        elif isinstance(value, str):
            yield where, value


@dataclass(frozen=True)
class _Fields:
    declared: set[str]  # setupFields and configFields keys
    secret: set[str]  # those marked secret


REQUEST_PLACES: Final = (
    "a request step's url, args values and authorization, entrypointUrl and baseUrl"
)


def _evaluated_over(path: list[PathPart], action: dict[str, Any], text: str) -> str:
    """How the runtime reads the string at ``path`` (inside ``action``): ``request`` (where a
    request is made: secrets allowed), ``context`` (over the credentials too: secrets
    refused) or ``other`` (a provider's body or record, or no expression)."""
    if path[0] == "result":
        return "context"
    if path[0] != "steps" or len(path) < 3:
        return "other"
    if path[2] == "condition":
        return "context"
    if path[2] != "stepFunction" or len(path) < 5 or path[3] != "parameters":
        return "other"
    step = action["steps"][path[1]]
    function = step["stepFunction"].get("functionName")
    rest = path[4:]
    if function in ("request", "paginated_request"):
        if rest[0] in ("url", "authorization"):
            return "request"
        if rest[0] == "args" and len(rest) > 2:
            return "request" if rest[2] == "value" else "context"
        return "context" if rest[0] == "customErrors" else "other"
    if function in ("map_fields", "typecast"):
        if rest[0] == "dataSource":
            return "context"
        if rest[-1] == "expression":
            return "other" if is_jsonpath(text) else "context"  # JSONPath is on the record
        if rest[-1] == "matchExpression":
            return "context" if is_jexl(text) else "other"  # else a literal
    return "other"


def _credential_problem(text: str, where: str, fields: _Fields) -> str | None:
    if where == "other" or "credentials" not in text:
        return None
    for name in credential_names(text):
        if name == WHOLE:
            if where == "context":
                return (
                    "the credentials object as a whole may only be named where a request is "
                    f"made ({REQUEST_PLACES})"
                )
        elif name not in fields.declared:
            return f"credentials.{name} names no setupFields or configFields key"
        elif name in fields.secret and where == "context":
            return (
                f"credentials.{name} is a secret field: it may only be named where a request "
                f"is made ({REQUEST_PLACES})"
            )
    return None


def step_errors(
    place: str, action: dict[str, Any], fields: _Fields | None = None
) -> list[FieldError]:
    """Each step's id is unique; every expression parses; ``steps.<id>`` names an earlier
    step, ``inputs.<name>`` a declared input and ``credentials.<key>`` a declared field, a
    secret one only where a request is made (each error at its place)."""
    fields = fields or _Fields(declared=set(), secret=set())
    errors: list[FieldError] = []
    entrypoint = action.get("entrypointUrl")
    if isinstance(entrypoint, str):
        problem = _credential_problem(entrypoint, "request", fields)
        if problem is not None:
            errors.append(FieldError(f"{place}.entrypointUrl", problem))
    inputs = {i.get("name") for _, i in _dicts(action.get("inputs"))}
    steps = _dicts(action.get("steps"))
    _check_unique(
        errors,
        [(f"{place}.steps[{n}].stepId", step.get("stepId")) for n, step in steps],
        "stepId",
    )
    earlier: set[str] = set()
    scopes: list[tuple[list[PathPart], Any, set[str]]] = []
    for n, step in steps:
        scopes.append(([*_parts(place), "steps", n], step, set(earlier)))
        if isinstance(step.get("stepId"), str):
            earlier.add(step["stepId"])
    if "result" in action:
        scopes.append(([*_parts(place), "result"], action["result"], set(earlier)))
    for path, node, known_steps in scopes:
        for where, text in _strings(node, path):
            if len(errors) >= MAX_EXPRESSION_ERRORS:
                return errors
            if where[-1] == "stepId":
                continue
            message = where[-1] == "message" and "customErrors" in where
            problem = expression_problem(text, roots=ERROR_MESSAGE_ROOTS if message else ROOTS)
            if problem is None:
                problem = _reference_problem(text, known_steps, inputs)
            if problem is None:
                over = _evaluated_over(where[len(_parts(place)) :], action, text)
                problem = _credential_problem(text, over, fields)
            if problem is not None:
                errors.append(FieldError(format_place(where), problem))
        if isinstance(node, dict) and isinstance(node.get("stepFunction"), dict):
            grouped = (node["stepFunction"].get("parameters") or {}).get("stepsDataToGroup")
            for k, step_id in enumerate(grouped if isinstance(grouped, list) else []):
                if isinstance(step_id, str) and step_id not in known_steps:
                    errors.append(
                        FieldError(
                            format_place(
                                [*path, "stepFunction", "parameters", "stepsDataToGroup", k]
                            ),
                            f"names no earlier step ({step_id!r})",
                        )
                    )
    return errors


def _parts(place: str) -> list[PathPart]:
    name, _, rest = place.partition("[")
    return [name, int(rest.rstrip("]"))] if rest else [name]


def _reference_problem(text: str, steps: set[str], inputs: set[Any]) -> str | None:
    if "steps." not in text and "inputs." not in text:
        return None
    for match in _STEP_REFERENCE.finditer(text):
        if match.group(1) not in steps:
            return f"steps.{match.group(1)} names no earlier step"
    for match in _INPUT_REFERENCE.finditer(text):
        if match.group(1) not in inputs:
            return f"inputs.{match.group(1)} names no input of this action"
    return None


_HEADER_NAME: Final = re.compile(HEADER_NAME_PATTERN)
_LINE_BREAK: Final = re.compile(r"[\r\n]")


def header_errors(place: str, action: dict[str, Any]) -> list[FieldError]:
    """A header a request step sends: its name is an RFC 7230 token, and no literal value
    holds CR or LF (they would end the header and start another)."""
    errors: list[FieldError] = []
    for n, step in _dicts(action.get("steps")):
        function = step.get("stepFunction")
        if not isinstance(function, dict) or not isinstance(function.get("parameters"), dict):
            continue
        parameters = function["parameters"]
        at = f"{place}.steps[{n}].stepFunction.parameters"
        for k, arg in _dicts(parameters.get("args")):
            if arg.get("in") != "headers":
                continue
            name = arg.get("name")
            if isinstance(name, str) and not _HEADER_NAME.fullmatch(name):
                errors.append(
                    FieldError(
                        f"{at}.args[{k}].name",
                        f"must be {PATTERN_DESCRIPTIONS[HEADER_NAME_PATTERN]}",
                    )
                )
            for where, text in _strings(arg.get("value"), [f"{at}.args[{k}].value"]):
                if _LINE_BREAK.search(text):
                    errors.append(FieldError(format_place(where), _HEADER_VALUE_PROBLEM))
        authorization = parameters.get("authorization")
        if isinstance(authorization, dict):
            for key in ("value", "token"):
                value = authorization.get(key)
                if isinstance(value, str) and _LINE_BREAK.search(value):
                    errors.append(FieldError(f"{at}.authorization.{key}", _HEADER_VALUE_PROBLEM))
    return errors


_HEADER_VALUE_PROBLEM: Final = "a header value must not contain a line break (CR or LF)"
