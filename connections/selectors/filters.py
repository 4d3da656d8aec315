"""The list's filters: search, equality filters, field filters with operators, sort."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db.models import (
    Q,
    QuerySet,
)
from django.utils.dateparse import parse_datetime

from core.pager import EPOCH, KeysetOrder
from projects.services import ServiceError

from ..models import (
    Connection,
    Health,
    Status,
)

# field__operator filters of the API: field → (ORM path, kind).
FILTER_FIELDS: dict[str, tuple[str, str]] = {
    "created_at": ("created_at", "datetime"),
    "updated_at": ("updated_at", "datetime"),
    "last_used_at": ("last_used_at", "datetime"),
    "health_checked_at": ("health_checked_at", "datetime"),
    "moved_at": ("moved_at", "datetime"),
    "name": ("name", "text"),
    "origin_owner_id": ("origin_owner_id", "text"),
    "origin_owner_name": ("origin_owner_name", "text"),
    "origin_username": ("origin_username", "text"),
    "email": ("email", "text"),
    "status": ("status", "choice"),
    "health": ("health", "choice"),
    "connector_key": ("connector__key", "text"),
    "profile_id": ("profile__public_id", "uuid"),
    "resolved_version": ("resolved_version__version", "text"),
    "id": ("public_id", "uuid"),
}
OPERATORS = {
    "eq": "exact",
    "exact": "exact",
    "ne": "exact",  # negated below
    "gt": "gt",
    "gte": "gte",
    "lt": "lt",
    "lte": "lte",
    "contains": "icontains",
    "icontains": "icontains",
    "startswith": "istartswith",
    "istartswith": "istartswith",
    "in": "in",
    "isnull": "isnull",
}
_KIND_OPERATORS = {
    "datetime": {"eq", "exact", "ne", "gt", "gte", "lt", "lte", "isnull"},
    "uuid": {"eq", "exact", "ne", "in"},
    "choice": {"eq", "exact", "ne", "in"},
    "text": {"eq", "exact", "ne", "contains", "icontains", "startswith", "istartswith", "in"},
}
_CHOICES = {"status": {s.value for s in Status}, "health": {h.value for h in Health}}

SORTS = ("created_at", "updated_at", "name", "last_used_at", "health_checked_at")
# NULLable sorts: "never" sorts as the oldest (last newest first), through the expression
# indexes conn_project_used / conn_project_checked on the same COALESCE.
NULLS_AS_EPOCH = frozenset({"last_used_at", "health_checked_at"})
SEARCH_MIN_TRIGRAM = 3


def _value(name: str, kind: str, raw: str) -> Any:
    if kind == "datetime":
        parsed = parse_datetime(raw)
        if parsed is None:
            raise ServiceError(f"{name}: expected an ISO 8601 date-time.", field=name)
        return parsed
    if kind == "uuid":
        try:
            return UUID(raw)
        except ValueError as exc:
            raise ServiceError(f"{name}: expected an id (a UUID).", field=name) from exc
    field_name = name.split("__")[0]
    if kind == "choice" and raw not in _CHOICES[field_name]:
        allowed = ", ".join(sorted(_CHOICES[field_name]))
        raise ServiceError(f"{name}: “{raw}” is not one of {allowed}.", field=name)
    return raw


def field_filter(name: str, raw: str) -> Q:
    """One ``field__operator=value`` filter as a Q; unknown fields or operators are 400."""
    field_name, _, operator = name.partition("__")
    operator = operator or "eq"
    if field_name not in FILTER_FIELDS:
        raise ServiceError(
            f"Unknown filter field “{field_name}”. Filterable: {', '.join(FILTER_FIELDS)}.",
            field=name,
        )
    path, kind = FILTER_FIELDS[field_name]
    if operator not in _KIND_OPERATORS[kind]:
        raise ServiceError(
            f"{name}: the operator “{operator}” does not apply to {field_name}. "
            f"Use one of {', '.join(sorted(_KIND_OPERATORS[kind]))}.",
            field=name,
        )
    lookup = f"{path}__{OPERATORS[operator]}"
    if operator == "isnull":
        if raw.lower() not in ("true", "false"):
            raise ServiceError(f"{name}: expected true or false.", field=name)
        return Q(**{lookup: raw.lower() == "true"})
    if operator == "in":
        values = [_value(name, kind, part.strip()) for part in raw.split(",") if part.strip()]
        return Q(**{lookup: values})
    value = _value(name, kind, raw)
    return ~Q(**{lookup: value}) if operator == "ne" else Q(**{lookup: value})


@dataclass
class Filters:
    search: str = ""
    connector_key: str = ""
    profile_id: UUID | None = None  # the profile's public id
    status: str = ""
    health: str = ""
    version: str = ""  # the resolved version's number
    fields: dict[str, str] = field(default_factory=dict)  # field__operator → raw value
    sort_by: str = "created_at"
    sort_dir: str = "desc"

    def __post_init__(self) -> None:
        if self.sort_by not in SORTS:
            raise ServiceError(f"sort_by must be one of {', '.join(SORTS)}.", field="sort_by")
        if self.sort_dir not in ("asc", "desc"):
            raise ServiceError("sort_dir must be asc or desc.", field="sort_dir")
        if self.status and self.status not in _CHOICES["status"]:
            raise ServiceError(f"Unknown status “{self.status}”.", field="status")
        if self.health and self.health not in _CHOICES["health"]:
            raise ServiceError(f"Unknown health “{self.health}”.", field="health")

    def to_json(self) -> dict[str, Any]:
        """The filters as JSON values (a background task's argument)."""
        data = asdict(self)
        data["profile_id"] = str(self.profile_id) if self.profile_id else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Filters:
        profile_id = data.get("profile_id")
        return cls(**{**data, "profile_id": UUID(profile_id) if profile_id else None})

    @property
    def active(self) -> bool:
        return bool(
            self.search
            or self.connector_key
            or self.profile_id
            or self.status
            or self.health
            or self.version
            or self.fields
        )


def search_q(text: str) -> Q:
    """Owner id, names, username or email containing ``text`` (a trigram index on
    PostgreSQL); one or two characters match the start of the owner id or name only."""
    text = text.strip().lower()
    if len(text) < SEARCH_MIN_TRIGRAM:
        return Q(origin_owner_id__startswith=text) | Q(name__istartswith=text)
    return Q(search_text__contains=text)


# The filters that compare a column with the value as given: Filters field → ORM path.
EQUAL_FILTERS = {
    "connector_key": "connector__key",
    "profile_id": "profile__public_id",
    "status": "status",
    "health": "health",
    "version": "resolved_version__version",
}


def apply_filters(connections: QuerySet[Connection], filters: Filters) -> QuerySet[Connection]:
    if filters.search.strip():
        connections = connections.filter(search_q(filters.search))
    connections = _equal_filtered(connections, _equal_filters(filters))
    for name, raw in filters.fields.items():
        connections = connections.filter(field_filter(name, raw))
    return connections


def _equal_filters(filters: Filters) -> dict[str, Any]:
    """The filters' EQUAL_FILTERS that are set: ORM path → value."""
    return {
        path: getattr(filters, name)
        for name, path in EQUAL_FILTERS.items()
        if getattr(filters, name)
    }


def _equal_filtered(
    connections: QuerySet[Connection], given: dict[str, Any]
) -> QuerySet[Connection]:
    return connections.filter(**given) if given else connections


def ordered(connections: QuerySet[Connection], filters: Filters) -> QuerySet[Connection]:
    return connections.order_by(*order_of(filters).order_by())


def order_of(filters: Filters) -> KeysetOrder:
    return KeysetOrder(
        filters.sort_by,
        descending=filters.sort_dir == "desc",
        kind=str if filters.sort_by == "name" else datetime,
        nulls_as=EPOCH if filters.sort_by in NULLS_AS_EPOCH else None,
    )
