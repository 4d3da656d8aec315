"""Parsing and validation of connector definitions (docs/connector-definition.md).

``parse_definition`` takes the main file and its partial files as bytes and returns a
``ParsedDefinition`` or raises ``DefinitionError`` carrying every problem found, each with its
place (``actions[2].inputs[0].in``, ``files[deals.yaml]``).

Stages, each of which stops the parse when it finds errors:

1. sizes (413, before anything is decoded), file names, strict UTF-8, safe YAML;
2. splicing of ``$ref`` partials;
3. JSON Schema (shapes) plus the semantic rules that span several places.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Final, NoReturn, cast
from urllib.parse import urlsplit

import semver
import yaml
from jsonschema import Draft202012Validator, ValidationError, validators
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode

from .definition_schema import DEFINITION_SCHEMA, PATTERN_DESCRIPTIONS
from .versioning import parse_version

MAX_FILE_BYTES = 1024 * 1024
MAX_PUSH_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 64
RESERVED_VERSION_NAMES = frozenset({"latest", "default", "latest_builtin", "latest_custom"})

# Splicing the same partial many times could multiply the size of a definition (the partial
# version of an alias bomb); no real connector comes near this many values.
MAX_SPLICED_NODES = 250_000

PARTIAL_SUFFIXES: Final = (".yaml", ".yml")
REF_KEY: Final = "$ref"
_REF_PATTERN: Final = re.compile(r"([a-z][a-z0-9_]{1,63})\.([A-Za-z0-9_-]+)")
_CREDENTIAL_PATTERN: Final = re.compile(r"\$\{([^{}]*)\}")
_CREDENTIAL_NAME_PATTERN: Final = re.compile(r"credentials\.([A-Za-z0-9_]+)")


@dataclass(frozen=True)
class FieldError:
    """One problem in a definition, at ``field`` (a place such as ``info.version``)."""

    field: str
    message: str


class DefinitionError(Exception):
    """A definition was refused; ``errors`` lists every problem with its place."""

    def __init__(
        self, message: str, errors: list[FieldError] | None = None, *, status: int = 400
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errors: list[FieldError] = list(errors or [])
        self.status = status
        self.code = "too_large" if status == 413 else "invalid_definition"

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class ParsedDefinition:
    key: str
    version: str
    title: str
    description: str
    icon: str
    definition: dict[str, Any]
    source_files: dict[str, str]


# --- Places -----------------------------------------------------------------------------------

PathPart = str | int


def format_place(path: Sequence[PathPart]) -> str:
    """``["actions", 2, "inputs", 0, "in"]`` → ``actions[2].inputs[0].in``."""
    place = ""
    for part in path:
        if isinstance(part, int):
            place += f"[{part}]"
        else:
            place += f".{part}" if place else part
    return place or "definition"


def file_place(name: str) -> str:
    return f"files[{name}]"


def _natural_key(text: str) -> list[Any]:
    # re.split with a capture group alternates text and digits, so the types line up.
    return [int(part) if index % 2 else part for index, part in enumerate(re.split(r"(\d+)", text))]


def _sorted_errors(errors: list[FieldError]) -> list[FieldError]:
    unique = list(dict.fromkeys(errors))
    return sorted(unique, key=lambda error: (_natural_key(error.field), error.message))


def _raise_errors(errors: list[FieldError]) -> None:
    if errors:
        _fail(errors)


def _fail(errors: list[FieldError]) -> NoReturn:
    errors = _sorted_errors(errors)
    count = len(errors)
    if count == 1:
        message = f"The definition has 1 error: {errors[0].field}: {errors[0].message}"
    else:
        message = f"The definition has {count} errors."
    raise DefinitionError(message, errors)


# --- Safe YAML --------------------------------------------------------------------------------

_CORE_TAGS: Final = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map")
)
# Implicit resolvers that turn plain scalars into something other than JSON types (or that
# SafeLoader cannot even construct): those scalars stay plain strings.
_DROPPED_RESOLVERS: Final = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("timestamp", "merge", "value", "yaml")
)


def _short_tag(tag: str) -> str:
    prefix = "tag:yaml.org,2002:"
    return "!!" + tag[len(prefix) :] if tag.startswith(prefix) else tag


class DefinitionLoader(yaml.SafeLoader):
    """SafeLoader without anchors, aliases, non-core tags, timestamps or duplicate keys, and
    with a nesting limit checked while composing (so nothing deep is ever built)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()
        tag = getattr(event, "tag", None)
        collection = isinstance(event, SequenceStartEvent | MappingStartEvent)
        problem = None
        if isinstance(event, AliasEvent):
            problem = f"aliases (*{event.anchor}) are not allowed"
        elif event.anchor is not None:
            problem = f"anchors (&{event.anchor}) are not allowed"
        elif tag is not None and tag != "!" and tag not in _CORE_TAGS:
            problem = f"the tag {_short_tag(tag)} is not allowed (only the YAML core schema)"
        elif collection and self._depth >= MAX_DEPTH:
            problem = f"nesting is deeper than {MAX_DEPTH} levels"
        if problem is not None:
            raise ComposerError(None, None, problem, event.start_mark)
        self._depth += collection
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= collection

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, MappingNode):
            raise ConstructorError(
                None, None, f"expected a mapping, found {node.id}", node.start_mark
            )
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                raise ConstructorError(
                    None,
                    None,
                    f"mapping keys must be strings, found {key!r} (quote it)",
                    key_node.start_mark,
                )
            if key in mapping:
                raise ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping

    def construct_yaml_int(self, node: ScalarNode) -> int:
        try:
            return super().construct_yaml_int(node)
        except ValueError as exc:  # e.g. more digits than int() accepts
            raise ConstructorError(None, None, f"invalid integer: {exc}", node.start_mark) from None

    def construct_yaml_float(self, node: ScalarNode) -> float:
        value = super().construct_yaml_float(node)
        if not math.isfinite(value):
            raise ConstructorError(
                None, None, "infinity and NaN are not allowed (not JSON)", node.start_mark
            )
        return value


DefinitionLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _DROPPED_RESOLVERS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
DefinitionLoader.add_constructor("tag:yaml.org,2002:int", DefinitionLoader.construct_yaml_int)
DefinitionLoader.add_constructor("tag:yaml.org,2002:float", DefinitionLoader.construct_yaml_float)


def _yaml_error_message(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.problem and exc.context:
            problem = f"{exc.problem} ({exc.context})"
        if mark is not None:
            return f"YAML error at line {mark.line + 1}, column {mark.column + 1}: {problem}"
        return f"YAML error: {problem}"
    return f"YAML error: {exc}"


def load_yaml(text: str) -> Any:
    """Load one YAML document with ``DefinitionLoader``. Raises ``yaml.YAMLError`` (with line
    and column) or ``RecursionError``."""
    loader = DefinitionLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


# --- Files ------------------------------------------------------------------------------------


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def _check_sizes(files: Sequence[tuple[str, bytes]]) -> None:
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
class _File:
    name: str
    text: str = ""
    data: Any = None


def _read_files(files: Sequence[tuple[str, bytes]]) -> list[_File]:
    errors: list[FieldError] = []
    seen: set[str] = set()
    loaded: list[_File] = []
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
            errors.append(FieldError(place, _yaml_error_message(exc)))
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
        loaded.append(_File(name, text, data))
    _raise_errors(errors)
    return loaded


# --- Partials ---------------------------------------------------------------------------------


class _TooManyNodes(Exception):
    pass


@dataclass
class _Splicer:
    partials: dict[str, _File]
    key: str | None
    errors: list[FieldError] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    refs: list[tuple[str, str]] = field(default_factory=list)  # (place, key named by the ref)
    nodes: int = 0
    too_deep: bool = False

    def count(self) -> None:
        self.nodes += 1
        if self.nodes > MAX_SPLICED_NODES:
            raise _TooManyNodes

    def value(self, node: Any, path: list[PathPart], depth: int, stack: tuple[str, ...]) -> Any:
        self.count()
        if not isinstance(node, dict | list):
            return node
        if depth > MAX_DEPTH:
            if not self.too_deep:
                self.errors.append(
                    FieldError(
                        format_place(path),
                        f"nesting is deeper than {MAX_DEPTH} levels once partials are spliced in",
                    )
                )
                self.too_deep = True
            return None
        if isinstance(node, list):
            out: list[Any] = []
            self.extend(out, node, path, depth, stack)
            return out
        ref = self.ref_of(node, path)
        if ref is not None:
            target = self.lookup(ref, path, stack)
            if target is None:
                return None
            return self.value(target.data, path, depth, (*stack, target.name))
        return {key: self.value(item, [*path, key], depth + 1, stack) for key, item in node.items()}

    def extend(
        self,
        out: list[Any],
        items: list[Any],
        path: list[PathPart],
        depth: int,
        stack: tuple[str, ...],
    ) -> None:
        """Append ``items`` to ``out`` (the list at ``path``), splicing list partials."""
        for item in items:
            item_path = [*path, len(out)]
            ref = self.ref_of(item, item_path) if isinstance(item, dict) else None
            if ref is None:
                out.append(self.value(item, item_path, depth + 1, stack))
                continue
            target = self.lookup(ref, item_path, stack)
            if target is None:
                continue
            if isinstance(target.data, list):
                self.extend(out, target.data, path, depth, (*stack, target.name))
            else:
                out.append(self.value(target.data, item_path, depth + 1, (*stack, target.name)))

    def ref_of(self, node: dict[str, Any], path: list[PathPart]) -> str | None:
        if REF_KEY not in node:
            return None
        place = format_place(path)
        if len(node) != 1:
            self.errors.append(FieldError(place, "$ref must be the only key of its mapping"))
            return None
        ref = node[REF_KEY]
        if not isinstance(ref, str):
            self.errors.append(FieldError(place, "$ref must be a string <key>.<resource>"))
            return None
        return ref

    def lookup(self, ref: str, path: list[PathPart], stack: tuple[str, ...]) -> _File | None:
        place = format_place(path)
        match = _REF_PATTERN.fullmatch(ref)
        if match is None:
            self.errors.append(
                FieldError(place, f"$ref {ref!r} must look like <key>.<resource>, e.g. acme.deals")
            )
            return None
        ref_key, resource = match.group(1), match.group(2).replace("-", "_")
        if self.key is not None and ref_key != self.key:
            self.errors.append(
                FieldError(
                    place,
                    f"$ref {ref!r} names the connector {ref_key!r}, "
                    f"but this connector's key is {self.key!r}",
                )
            )
            return None
        self.refs.append((place, ref_key))
        candidates = [
            self.partials[name]
            for name in (resource, f"{ref_key}.{resource}")
            if name in self.partials
        ]
        if not candidates:
            self.errors.append(
                FieldError(
                    place,
                    f"$ref {ref!r}: no partial file {resource}.yaml or {ref_key}.{resource}.yaml",
                )
            )
            return None
        self.used.update(candidate.name for candidate in candidates)
        if len(candidates) > 1:
            names = " and ".join(candidate.name for candidate in candidates)
            self.errors.append(FieldError(place, f"$ref {ref!r} matches both {names}"))
            return None
        target = candidates[0]
        self.count()  # a tree of empty partials costs work too
        if len(stack) >= MAX_DEPTH:
            self.errors.append(FieldError(place, f"partials nest more than {MAX_DEPTH} deep"))
            return None
        if target.name in stack:
            cycle = " → ".join([*stack[stack.index(target.name) :], target.name])
            self.errors.append(FieldError(place, f"$ref {ref!r} makes a cycle: {cycle}"))
            return None
        return target


def _splice(main: _File, partials: list[_File]) -> dict[str, Any]:
    errors: list[FieldError] = []
    by_name: dict[str, _File] = {}
    for partial in partials:
        name = partial_name(partial.name)
        if name is None:
            continue
        if name in by_name:
            errors.append(
                FieldError(
                    file_place(partial.name),
                    f"answers to the same $ref as {by_name[name].name}",
                )
            )
            continue
        by_name[name] = partial
    _raise_errors(errors)

    info = main.data.get("info")
    key = info.get("key") if isinstance(info, dict) else None
    splicer = _Splicer(by_name, key if isinstance(key, str) else None)
    try:
        definition = splicer.value(main.data, [], 1, ())
    except _TooManyNodes:
        problem = f"more than {MAX_SPLICED_NODES} values once partials are spliced in"
        _fail([FieldError(file_place(main.name), problem)])
    except RecursionError:
        problem = "partials nest too deeply"
        _fail([FieldError(file_place(main.name), problem)])
    errors = splicer.errors
    if splicer.key is None:  # info was itself a $ref: check the keys now
        info = definition.get("info") if isinstance(definition, dict) else None
        final_key = info.get("key") if isinstance(info, dict) else None
        if isinstance(final_key, str):
            errors += [
                FieldError(place, f"$ref names the connector {ref_key!r}, not {final_key!r}")
                for place, ref_key in splicer.refs
                if ref_key != final_key
            ]
    errors += [
        FieldError(file_place(partial.name), "no $ref uses this partial file")
        for partial in partials
        if partial.name not in splicer.used and partial_name(partial.name) is not None
    ]
    _raise_errors(errors)
    if not isinstance(definition, dict):
        _fail([FieldError(file_place(main.name), "the definition must be a mapping")])
    return definition


# --- Validation -------------------------------------------------------------------------------

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


def _schema_errors(definition: dict[str, Any]) -> list[FieldError]:
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


def _semantic_errors(definition: dict[str, Any]) -> list[FieldError]:
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
    for index, action in actions:
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


# --- Entry point ------------------------------------------------------------------------------


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
    _check_sizes(files)
    loaded = _read_files(files)
    main, partials = loaded[0], loaded[1:]
    definition = _splice(main, partials)
    _raise_errors(_schema_errors(definition) + _semantic_errors(definition))

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
