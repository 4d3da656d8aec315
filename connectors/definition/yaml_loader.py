"""Safe YAML: the core schema only, no anchors, aliases, duplicate keys or deep nesting.

The text is scanned and parsed by libyaml (PyYAML's C parser) when it is installed, which is
about four times faster than the pure-Python parser; composing (where the checks below run)
and constructing stay in Python, and stop after ``MAX_YAML_NODES`` values."""

from __future__ import annotations

import math
from typing import Any, Final

import yaml
from yaml.composer import Composer, ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode
from yaml.resolver import Resolver

from .limits import MAX_DEPTH, MAX_YAML_NODES


def _parser_class() -> Any:
    """libyaml's scanner and parser when PyYAML was built with it (its wheels are), else the
    pure-Python Reader + Scanner + Parser."""
    try:
        from yaml._yaml import CParser
    except ImportError:  # pragma: no cover - a PyYAML without libyaml
        from yaml.parser import Parser
        from yaml.reader import Reader
        from yaml.scanner import Scanner

        class PurePythonParser(Reader, Scanner, Parser):
            def __init__(self, stream: str) -> None:
                Reader.__init__(self, stream)
                Scanner.__init__(self)
                Parser.__init__(self)

        return PurePythonParser
    return CParser


_Parser: Any = _parser_class()

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


class DefinitionLoader(Composer, _Parser, SafeConstructor, Resolver):
    """SafeLoader without anchors, aliases, non-core tags, timestamps or duplicate keys, and
    with nesting and size limits checked while composing (so nothing deep or huge is built).
    The Python composer comes first in the MRO, so its checks run over libyaml's events."""

    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event: Any = self.peek_event()
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
        self._nodes += 1
        if problem is None and self._nodes > MAX_YAML_NODES:
            problem = (
                f"a file may hold at most {MAX_YAML_NODES:,} values (scalars, lists, mappings)"
            )
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


def yaml_error_message(exc: yaml.YAMLError) -> str:
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
