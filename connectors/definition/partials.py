"""Splicing ``$ref: <key>.<resource>`` partial files into the main file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

from .errors import FieldError, PathPart, fail, file_place, format_place, raise_errors
from .files import SourceFile, partial_name
from .limits import MAX_DEPTH, MAX_SPLICED_NODES

REF_KEY: Final = "$ref"
_REF_PATTERN: Final = re.compile(r"([a-z][a-z0-9_]{1,63})\.([A-Za-z0-9_-]+)")


class _TooManyNodes(Exception):
    pass


@dataclass
class _Splicer:
    partials: dict[str, SourceFile]
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

    def lookup(self, ref: str, path: list[PathPart], stack: tuple[str, ...]) -> SourceFile | None:
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


def splice(main: SourceFile, partials: list[SourceFile]) -> dict[str, Any]:
    errors: list[FieldError] = []
    by_name: dict[str, SourceFile] = {}
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
    raise_errors(errors)

    info = main.data.get("info")
    key = info.get("key") if isinstance(info, dict) else None
    splicer = _Splicer(by_name, key if isinstance(key, str) else None)
    try:
        definition = splicer.value(main.data, [], 1, ())
    except _TooManyNodes:
        problem = f"more than {MAX_SPLICED_NODES} values once partials are spliced in"
        fail([FieldError(file_place(main.name), problem)])
    except RecursionError:
        problem = "partials nest too deeply"
        fail([FieldError(file_place(main.name), problem)])
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
    raise_errors(errors)
    if not isinstance(definition, dict):
        fail([FieldError(file_place(main.name), "the definition must be a mapping")])
    return definition
