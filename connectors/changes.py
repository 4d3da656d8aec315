"""Change report between two connector definitions (docs/concepts.md "The change report").

``compare_definitions`` classifies every difference as major, minor or patch, and flags when
connections must re-authenticate. ``structured_diff`` is the raw, leaf-level difference used by
the "compare two versions" page; the change report is built on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal, cast

import semver

Level = Literal["major", "minor", "patch"]
ReportLevel = Literal["initial", "major", "minor", "patch"]

_RANK: Final[dict[str, int]] = {"patch": 0, "minor": 1, "major": 2}
_LEVELS: Final = ("major", "minor", "patch")
_FIELD_LISTS: Final = ("setupFields", "configFields")
_PLACE_NAMES: Final = {
    "info.title": "Title",
    "info.description": "Description",
    "info.assets": "Assets",
    "info.assets.icon": "Icon",
    "baseUrl": "Base URL",
    "healthCheck": "Health check",
    "healthCheck.path": "Health check path",
    "healthCheck.method": "Health check method",
    "healthCheck.expectStatus": "Health check expected status",
    "authentication.authorizationUrl": "Authorization URL",
    "authentication.tokenUrl": "Token URL",
    "authentication.headerName": "API key header name",
}
_FIELD_NOUNS: Final = {"setupFields": "setup field", "configFields": "config field"}


@dataclass(frozen=True)
class Change:
    level: Level
    place: str
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "place": self.place, "text": self.text}


@dataclass(frozen=True)
class ChangeReport:
    level: ReportLevel
    changes: tuple[Change, ...]
    reauth_required: bool
    previous_version: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "changes": [change.to_json() for change in self.changes],
            "reauth_required": self.reauth_required,
            "previous_version": self.previous_version,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChangeReport:
        level = data["level"]
        if level not in ("initial", *_LEVELS):
            raise ValueError(f"unknown change report level {level!r}")
        changes = []
        for item in data.get("changes", []):
            if item["level"] not in _LEVELS:
                raise ValueError(f"unknown change level {item['level']!r}")
            changes.append(
                Change(level=item["level"], place=str(item["place"]), text=str(item["text"]))
            )
        previous = data.get("previous_version")
        return cls(
            level=cast(ReportLevel, level),
            changes=tuple(changes),
            reauth_required=bool(data.get("reauth_required", False)),
            previous_version=None if previous is None else str(previous),
        )

    def as_messages(self) -> list[dict[str, Any]]:
        """The report as the version's ``messages``: each a text, a severity (info, warning or
        error) and a detail list."""
        if self.level == "initial":
            return [{"text": "First version of this connector", "severity": "info", "detail": []}]
        against = self.previous_version or "the previous version"
        count = len(self.changes)
        if count:
            summary = f"{self.level.capitalize()} change against {against}: {count} change"
            summary += "" if count == 1 else "s"
        else:
            summary = f"No changes against {against}"
        messages: list[dict[str, Any]] = [
            {"text": summary, "severity": "info", "detail": [c.text for c in self.changes]}
        ]
        messages += [
            {"text": change.text, "severity": "warning", "detail": [change.place]}
            for change in self.changes
            if change.level == "major"
        ]
        if self.reauth_required:
            messages.append(
                {
                    "text": "Connections must re-authenticate",
                    "severity": "warning",
                    "detail": [c.text for c in self.changes if _is_reauth(c)],
                }
            )
        return messages


def declared_bump(previous_version: str | None, version: str) -> ReportLevel:
    """The bump a version number declares against the previous one."""
    if previous_version is None:
        return "initial"
    old, new = semver.Version.parse(previous_version), semver.Version.parse(version)
    if old.major != new.major:
        return "major"
    if old.minor != new.minor:
        return "minor"
    return "patch"


def bump_is_sufficient(declared: ReportLevel, required: ReportLevel) -> bool:
    """Whether the declared bump covers the changes (patch < minor < major)."""
    if declared == "initial" or required == "initial":
        return True
    return _RANK[declared] >= _RANK[required]


# --- Structured diff --------------------------------------------------------------------------

# A path into a definition: ("key", name) for a mapping key, ("id", value) for an item of a
# keyed list (actions by actionId, ...), ("index", n) for an item of any other list.
Segment = tuple[Literal["key", "id", "index"], Any]
Path = tuple[Segment, ...]


@dataclass(frozen=True)
class DiffEntry:
    place: str
    kind: Literal["added", "removed", "changed"]
    old: Any
    new: Any


@dataclass(frozen=True)
class _Entry:
    path: Path
    kind: Literal["added", "removed", "changed"]
    old: Any
    new: Any


def _format(path: Path) -> str:
    place = ""
    for kind, value in path:
        if kind == "key":
            place += f".{value}" if place else str(value)
        else:
            place += f"[{value}]"
    return place


def _sort_key(path: Path) -> tuple[tuple[int, Any], ...]:
    return tuple((0, value) if kind == "index" else (1, str(value)) for kind, value in path)


def _keys(path: Path) -> tuple[Any, ...]:
    """The path with keyed items and indexes replaced by "*": for matching list positions."""
    return tuple(value if kind == "key" else "*" for kind, value in path)


def _list_identity(path: Path) -> str | None:
    """How the items of the list at ``path`` are identified: by which key, "=" for a set of
    scalars, None for by index."""
    keys = _keys(path)
    if keys == ("actions",):
        return "actionId"
    if keys == ("actions", "*", "inputs"):
        return "name"
    if len(keys) == 2 and keys[0] == "authentication" and keys[1] in _FIELD_LISTS:
        return "key"
    if keys == ("authentication", "scopes"):
        return "="
    return None


def _same(old: Any, new: Any) -> bool:
    if type(old) is not type(new):
        return False
    return bool(old == new)


def _keyed(items: list[Any], identity: str) -> dict[Any, Any] | None:
    """Items by their identity; None when some item has none or two share one."""
    keyed: dict[Any, Any] = {}
    for item in items:
        if identity == "=":
            ident = item if isinstance(item, str) else None
        else:
            ident = item.get(identity) if isinstance(item, dict) else None
        if not isinstance(ident, str) or ident in keyed:
            return None
        keyed[ident] = item
    return keyed


def _diff(old: Any, new: Any, path: Path, out: list[_Entry]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in old:
            if key not in new:
                out.append(_Entry((*path, ("key", key)), "removed", old[key], None))
            else:
                _diff(old[key], new[key], (*path, ("key", key)), out)
        for key in new:
            if key not in old:
                out.append(_Entry((*path, ("key", key)), "added", None, new[key]))
        return
    if isinstance(old, list) and isinstance(new, list):
        identity = _list_identity(path)
        old_keyed = _keyed(old, identity) if identity else None
        new_keyed = _keyed(new, identity) if identity else None
        if old_keyed is None or new_keyed is None:
            old_keyed = dict(enumerate(old))
            new_keyed = dict(enumerate(new))
            segment_kind: Literal["id", "index"] = "index"
        else:
            segment_kind = "id"
        for ident, item in old_keyed.items():
            item_path = (*path, (segment_kind, ident))
            if ident not in new_keyed:
                out.append(_Entry(item_path, "removed", item, None))
            elif identity != "=" or segment_kind == "index":
                _diff(item, new_keyed[ident], item_path, out)
        for ident, item in new_keyed.items():
            if ident not in old_keyed:
                out.append(_Entry((*path, (segment_kind, ident)), "added", None, item))
        return
    if not _same(old, new):
        out.append(_Entry(path, "changed", old, new))


def _entries(old: dict[str, Any], new: dict[str, Any]) -> list[_Entry]:
    out: list[_Entry] = []
    _diff(old, new, (), out)
    return sorted(out, key=lambda entry: _sort_key(entry.path))


def structured_diff(old: dict[str, Any], new: dict[str, Any]) -> list[DiffEntry]:
    """Every difference between two definitions, ordered by place. Actions are matched by
    actionId, fields by key, inputs by name and scopes as a set; other lists by index."""
    return [
        DiffEntry(_format(entry.path), entry.kind, entry.old, entry.new)
        for entry in _entries(old, new)
    ]


# --- Classification ---------------------------------------------------------------------------


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _by(items: Any, identity: str) -> dict[str, dict[str, Any]]:
    """The mapping items of a list by their identity (first one wins)."""
    keyed: dict[str, dict[str, Any]] = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get(identity), str):
            keyed.setdefault(item[identity], item)
    return keyed


def _is_required(item: dict[str, Any]) -> bool:
    return item.get("required") is True


def _is_reauth(change: Change) -> bool:
    return change.level == "major" and (
        change.place == "authentication" or change.place.startswith("authentication.")
    )


class _Collector:
    def __init__(self) -> None:
        self.changes: list[Change] = []

    def add(self, level: Level, place: str, text: str) -> None:
        self.changes.append(Change(level, place, text))

    def members(
        self,
        old: dict[str, dict[str, Any]],
        new: dict[str, dict[str, Any]],
        place: str,
        prefix: str,
        noun: str,
    ) -> None:
        """Fields or inputs: removed / added / made required / made optional / type changed."""

        def add(level: Level, at: str, text: str) -> None:
            text = prefix + text
            self.add(level, at, text[:1].upper() + text[1:])

        for name, item in old.items():
            at = f"{place}[{name}]"
            if name not in new:
                add("major", at, f"{noun} {name} removed")
                continue
            current = new[name]
            if _is_required(current) and not _is_required(item):
                add("major", f"{at}.required", f"{noun} {name} made required")
            elif _is_required(item) and not _is_required(current):
                add("patch", f"{at}.required", f"{noun} {name} made optional")
            old_type, new_type = item.get("type"), current.get("type")
            if not _same(old_type, new_type):
                add(
                    "major",
                    f"{at}.type",
                    f"{noun} {name} type changed from {old_type} to {new_type}",
                )
        for name, item in new.items():
            if name not in old:
                required = "required" if _is_required(item) else "optional"
                level: Level = "major" if required == "required" else "minor"
                add(level, f"{place}[{name}]", f"{required} {noun} {name} added")


def _explained(path: Path) -> bool:
    """Whether the explicit rules of ``compare_definitions`` already cover a diff entry."""
    keys = _keys(path)
    if keys in {
        ("info", "version"),
        ("authentication", "type"),
        ("authentication", "scopes"),
        ("actions",),
        ("actions", "*"),
        ("actions", "*", "actionType"),
        ("actions", "*", "inputs"),
        ("actions", "*", "inputs", "*"),
        ("actions", "*", "inputs", "*", "required"),
        ("actions", "*", "inputs", "*", "type"),
    }:
        return True
    if keys[:2] == ("authentication", "scopes"):
        return True
    if len(keys) >= 2 and keys[0] == "authentication" and keys[1] in _FIELD_LISTS:
        return len(keys) <= 3 or (len(keys) == 4 and keys[3] in {"required", "type"})
    return False


def _subject(path: Path) -> tuple[Path, str]:
    """Where a patch-level difference is reported (an attribute of an action, input, field or
    section) and a human name for it."""
    keys = _keys(path)
    if keys[:1] == ("actions",) and len(path) >= 3 and path[1][0] == "id":
        action = path[1][1]
        if keys[2] == "inputs" and len(path) >= 5 and path[3][0] == "id":
            return path[:5], f"Action {action}: input {path[3][1]} {path[4][1]}"
        return path[:3], f"Action {action}: {path[2][1]}"
    if keys[:1] == ("authentication",) and len(path) >= 4 and keys[1] in _FIELD_LISTS:
        noun = _FIELD_NOUNS[keys[1]].capitalize()
        return path[:4], f"{noun} {path[2][1]}: {path[3][1]}"
    grouped = path[:2] if path[:1] != (("key", "info"),) else path[:3]
    place = _format(grouped)
    return grouped, _PLACE_NAMES.get(place, place)


def output_fields(action: dict[str, Any]) -> dict[str, Any]:
    """The output shape an action's ``map_fields`` steps promise: target key → type (hidden
    fields left out)."""
    fields: dict[str, Any] = {}
    for step in action.get("steps") or []:
        function = step.get("stepFunction") if isinstance(step, dict) else None
        if not isinstance(function, dict) or function.get("functionName") != "map_fields":
            continue
        for field in (function.get("parameters") or {}).get("fields") or []:
            key = field.get("targetFieldKey") if isinstance(field, dict) else None
            if isinstance(key, str) and not field.get("hidden"):
                fields[key] = field.get("type", "string")
    return fields


def _output_shape(
    collector: _Collector, place: str, action_id: str, old: dict[str, Any], new: dict[str, Any]
) -> None:
    """Output fields of map_fields: removed or retyped → major, added → minor (the mapping
    expressions themselves stay patch-level)."""
    before, after = output_fields(old), output_fields(new)
    for key, kind in before.items():
        if key not in after:
            collector.add(
                "major", f"{place}.output.{key}", f"Action {action_id}: output field {key} removed"
            )
        elif after[key] != kind:
            collector.add(
                "major",
                f"{place}.output.{key}",
                f"Action {action_id}: output field {key} type changed from {kind} to {after[key]}",
            )
    for key in after:
        if key not in before:
            collector.add(
                "minor", f"{place}.output.{key}", f"Action {action_id}: output field {key} added"
            )


def compare_definitions(
    previous: dict[str, Any] | None,
    current: dict[str, Any],
    *,
    previous_version: str | None = None,
) -> ChangeReport:
    """Classify every difference between ``previous`` and ``current``."""
    if previous is None:
        return ChangeReport("initial", (), False, previous_version)
    collector = _Collector()
    old_auth = _mapping(previous.get("authentication"))
    new_auth = _mapping(current.get("authentication"))

    if not _same(old_auth.get("type"), new_auth.get("type")):
        collector.add(
            "major",
            "authentication.type",
            f"Authentication type changed from {old_auth.get('type')} to {new_auth.get('type')}",
        )
    old_scopes = [s for s in old_auth.get("scopes") or [] if isinstance(s, str)]
    new_scopes = [s for s in new_auth.get("scopes") or [] if isinstance(s, str)]
    for scope in dict.fromkeys(new_scopes):
        if scope not in old_scopes:
            collector.add("major", "authentication.scopes", f"Scope {scope} added")
    for scope in dict.fromkeys(old_scopes):
        if scope not in new_scopes:
            collector.add("patch", "authentication.scopes", f"Scope {scope} removed")
    for kind in _FIELD_LISTS:
        collector.members(
            _by(old_auth.get(kind), "key"),
            _by(new_auth.get(kind), "key"),
            f"authentication.{kind}",
            "",
            _FIELD_NOUNS[kind],
        )

    old_actions = _by(previous.get("actions"), "actionId")
    new_actions = _by(current.get("actions"), "actionId")
    for action_id, action in old_actions.items():
        place = f"actions[{action_id}]"
        if action_id not in new_actions:
            collector.add("major", place, f"Action {action_id} removed")
            continue
        now = new_actions[action_id]
        if not _same(action.get("actionType"), now.get("actionType")):
            collector.add(
                "major",
                f"{place}.actionType",
                f"Action {action_id} actionType changed from {action.get('actionType')} "
                f"to {now.get('actionType')}",
            )
        collector.members(
            _by(action.get("inputs"), "name"),
            _by(now.get("inputs"), "name"),
            f"{place}.inputs",
            f"Action {action_id}: ",
            "input",
        )
        _output_shape(collector, place, action_id, action, now)
    for action_id in new_actions:
        if action_id not in old_actions:
            collector.add("minor", f"actions[{action_id}]", f"Action {action_id} added")

    # Everything else is a patch: one change per attribute that differs.
    grouped: dict[Path, tuple[str, list[_Entry]]] = {}
    for entry in _entries(previous, current):
        if _explained(entry.path):
            continue
        subject, name = _subject(entry.path)
        grouped.setdefault(subject, (name, []))[1].append(entry)
    for subject, (name, entries) in grouped.items():
        kind = entries[0].kind if len(entries) == 1 and entries[0].path == subject else "changed"
        collector.add("patch", _format(subject), f"{name} {kind}")

    changes = sorted(
        collector.changes,
        key=lambda change: (-_RANK[change.level], change.place, change.text),
    )
    level: ReportLevel = max((c.level for c in changes), key=_RANK.__getitem__, default="patch")
    return ChangeReport(
        level=level,
        changes=tuple(changes),
        reauth_required=any(_is_reauth(change) for change in changes),
        previous_version=previous_version,
    )


# --- The compare page: the diff by section, each row with its change level ----------------

DIFF_SECTIONS: Final = (
    ("auth", "Authentication"),
    ("fields", "Fields"),
    ("actions", "Actions"),
    ("inputs", "Inputs"),
    ("other", "Everything else"),
)
_LEVEL_RANK: Final = {"patch": 0, "minor": 1, "major": 2}


def _diff_section(place: str) -> str:
    if place.startswith(("authentication.setupFields", "authentication.configFields")):
        return "fields"
    if place.startswith("authentication"):
        return "auth"
    if place.startswith("actions") and ".inputs" in place:
        return "inputs"
    if place.startswith("actions"):
        return "actions"
    return "other"


def _covers(change_place: str, place: str) -> bool:
    """Whether a classified change at ``change_place`` is about the diff entry at ``place``."""
    if place == change_place:
        return True
    return place.startswith((change_place + ".", change_place + "[")) or change_place.startswith(
        (place + ".", place + "[")
    )


@dataclass(frozen=True)
class DiffRow:
    entry: DiffEntry
    level: Level
    texts: tuple[str, ...]  # what the change report says about it


@dataclass(frozen=True)
class DiffSection:
    key: str
    label: str
    rows: tuple[DiffRow, ...]

    @property
    def level(self) -> Level | None:
        if not self.rows:
            return None
        return max((row.level for row in self.rows), key=lambda level: _LEVEL_RANK[level])


def sectioned_diff(old: dict[str, Any], new: dict[str, Any]) -> list[DiffSection]:
    """``structured_diff`` by section (authentication, fields, actions, inputs, the rest),
    each entry with the level ``compare_definitions`` gives the change it belongs to (patch
    when no rule names it)."""
    report = compare_definitions(old, new)
    rows: dict[str, list[DiffRow]] = {key: [] for key, _label in DIFF_SECTIONS}
    for entry in structured_diff(old, new):
        about = [c for c in report.changes if _covers(c.place, entry.place)]
        level: Level = "patch"
        for change in about:
            if _LEVEL_RANK[change.level] > _LEVEL_RANK[level]:
                level = change.level
        rows[_diff_section(entry.place)].append(
            DiffRow(entry, level, tuple(dict.fromkeys(c.text for c in about)))
        )
    return [DiffSection(key, label, tuple(rows[key])) for key, label in DIFF_SECTIONS]
