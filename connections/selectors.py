"""Permission-scoped reads of connections: the list (filters, search, sort, keyset pages),
counts, credentials shown masked, version adoption.

Every interface (pages, HTMX partials, the API, bulk actions) reads through ``visible``, so
they can never disagree about who sees what.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any, NamedTuple
from uuid import UUID

from django.db.models import (
    CharField,
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    UUIDField,
    Window,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, TruncDate
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from connectors.models import Connector, ConnectorVersion
from core import baked, freshness
from core.pager import EPOCH, InvalidCursor, KeysetOrder, Page, keyset_page, planner_estimate
from profiles.models import ConnectorProfile
from profiles.selectors import resolve_profiles
from projects.crypto import decrypt_json, fernet, mask
from projects.models import AuditEntry, Membership, Project, Team
from projects.services import ServiceError

from . import counters, extensions, rbac
from .models import (
    BulkRun,
    Connection,
    ConnectionGrant,
    ConnectSession,
    Health,
    HealthCheck,
    Status,
)

SORTS = ("created_at", "updated_at", "name", "last_used_at", "health_checked_at")
# NULLable sorts: "never" sorts as the oldest (last newest first), through the expression
# indexes conn_project_used / conn_project_checked on the same COALESCE.
NULLS_AS_EPOCH = frozenset({"last_used_at", "health_checked_at"})
SEARCH_MIN_TRIGRAM = 3
COUNT_CAP = 10_000
MAX_LIMIT = 200


# Large columns of the resolved version that no connection page or API body reads: loading
# them with every row of a list page cost ~5 ms per 50 rows (bench/connections.py). Its
# definition is read by a connection's page (config field labels, title, icon), not by lists.
_VERSION_UNUSED = tuple(
    f"resolved_version__{name}"
    for name in ("source_files", "messages", "change_report", "description")
)


def connections_of(project: Project) -> QuerySet[Connection]:
    return (
        Connection.objects.filter(project=project)
        .select_related("profile", "connector", "resolved_version")
        .defer(*_VERSION_UNUSED)
    )


def page_rows_of(project: Project) -> QuerySet[Connection]:
    """A connection's own pages' row (``get_connection_for_user``): its profile and connector
    joined, its version by id only. The page reads that version's number, title, icon and
    config field labels from the per-process layer (``version_labels``, ``config_labels``):
    decoding the whole definition with the row cost ~1.5 ms of CPU a page (bench/connections.py).
    A service that needs the version (a health check, a token refresh) loads it by its id."""
    return Connection.objects.filter(project=project).select_related("profile", "connector")


_PAGE_ROW_MODELS = ((Connection, ""), (ConnectorProfile, "profile__"), (Connector, "connector__"))
_PAGE_ROW_COLUMNS = tuple(
    prefix + f.attname for model, prefix in _PAGE_ROW_MODELS for f in model._meta.concrete_fields
)


def _page_row(
    project_id: int, public_id: UUID, *granted: list[int]
) -> QuerySet[Connection, tuple[Any, ...]]:
    rows = Connection.objects.filter(project_id=project_id)
    if granted:
        rows = rbac.open_or_granted(rows, granted[0])
    return rows.filter(public_id=public_id).values_list(*_PAGE_ROW_COLUMNS)[:2]


def page_row(viewer: rbac.Viewer, project: Project, public_id: UUID) -> Connection | None:
    """``rbac.scope(viewer, page_rows_of(project)).get(public_id=...)``, or None: the row of
    every page of one connection, baked (core.baked; building and compiling that queryset cost
    ~1 ms of CPU a page, bench/connections.py). The scope is the same, in the SQL of every
    call; a member with more grants than are inlined reads through the queryset."""
    ids = rbac.granted_ids(viewer)
    if not viewer.sees_all and ids is None:
        return rbac.scope(viewer, page_rows_of(project)).filter(public_id=public_id).first()
    granted = () if viewer.sees_all else (ids,)
    key = ("page_row", "granted" if granted else "all")
    rows = baked.rows(key, _page_row, project.pk, public_id, *granted)
    if not rows:
        return None
    if len(rows) > 1:
        raise Connection.MultipleObjectsReturned("Public ids are unique.")
    values, start = rows[0], 0
    made: list[Any] = []
    for model, _prefix in _PAGE_ROW_MODELS:
        names = [f.attname for f in model._meta.concrete_fields]
        made.append(model.from_db(Connection.objects.db, names, values[start : start + len(names)]))
        start += len(names)
    connection, profile, connector = made
    connection.profile = profile
    connection.connector = connector
    return connection


def with_moved_from_public_id(connections: QuerySet[Connection]) -> QuerySet[Connection]:
    """Rows that name the profile they moved from by its public id (the API's bodies). Only on
    the rows read, never on a count: the join would cost every count its index-only scan."""
    return connections.annotate(moved_from_profile_public_id=F("moved_from_profile__public_id"))


def visible(viewer: rbac.Viewer, project: Project) -> QuerySet[Connection]:
    return rbac.scope(viewer, connections_of(project))


# --- Filters -------------------------------------------------------------------------------

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


# --- Keyset pages ----------------------------------------------------------------------------


def order_of(filters: Filters) -> KeysetOrder:
    return KeysetOrder(
        filters.sort_by,
        descending=filters.sort_dir == "desc",
        kind=str if filters.sort_by == "name" else datetime,
        nulls_as=EPOCH if filters.sort_by in NULLS_AS_EPOCH else None,
    )


def visible_parts(
    viewer: rbac.Viewer, rows: QuerySet[Connection], filters: Filters
) -> QuerySet[Connection] | tuple[QuerySet[Connection], QuerySet[Connection]]:
    """``rows`` (not yet scoped) as the viewer may read them, for ``page``: for a member whose
    grants are inlined and a sort by time, the two disjoint parts of their scope, which the
    pager reads through an index each and merges (rather than walking the whole project's
    index in order, testing every row against the grants); else the one scoped queryset."""
    parts = rbac.scope_parts(viewer, rows) if order_of(filters).kind is datetime else None
    return parts if parts is not None else rbac.scope(viewer, rows)


def page(
    connections: QuerySet[Connection] | Sequence[QuerySet[Connection] | list[Connection]],
    filters: Filters,
    *,
    after: str = "",
    before: str = "",
    limit: int = 50,
) -> Page[Connection]:
    """One keyset page (``core.pager``): the cost does not grow with how deep the page is.
    ``connections`` may be ``visible_parts``'s two parts."""
    limit = max(1, min(limit, MAX_LIMIT))
    try:
        return keyset_page(connections, order_of(filters), after=after, before=before, limit=limit)
    except InvalidCursor as exc:
        raise ServiceError("The page cursor is not valid; start from the first page.") from exc


def counted_total(project: Project, filters: Filters) -> int | None:
    """How many of the project's connections match ``filters``, from the counters, when the
    filters are only ones the counters count (connector, profile, status, health, version):
    exact, at the same cost at any size. None for a search or field filters."""
    if filters.search.strip() or filters.fields:
        return None
    return counters.total(
        project.pk,
        connector_key=filters.connector_key,
        profile_public_id=filters.profile_id,
        status=filters.status,
        health=filters.health,
        version_number=filters.version,
    )


def page_counted(
    viewer: rbac.Viewer,
    project: Project,
    filters: Filters,
    *,
    after: str = "",
    before: str = "",
    limit: int = 50,
    columns: Sequence[str] = (),
) -> tuple[Page[Any], int | None]:
    """``page`` of what ``viewer`` may read of the project's connections that match
    ``filters`` (``visible_parts``), as named tuples of ``columns`` (which name ``pk`` and the
    sort column) when given, else model instances. On a member's first page the granted
    part's rows come with their count (a window count in the same query), which
    ``list_count`` takes rather than reading those rows a second time: (page, that count or
    None).

    A first page of named tuples without a search or field filters is read by queries baked
    once per shape (core.baked): building and compiling them anew was a third of the list's
    CPU (bench/connections.py)."""
    first = not (after or before)
    if first and columns and not filters.search.strip() and not filters.fields:
        baked_page = _first_page_baked(viewer, project, filters, limit, tuple(columns))
        if baked_page is not None:
            return baked_page
    rows = apply_filters(Connection.objects.filter(project=project), filters)

    def shaped(part: QuerySet[Connection]) -> QuerySet[Any]:
        return part.values_list(*columns, named=True) if columns else part

    parts = visible_parts(viewer, rows, filters)
    if not isinstance(parts, tuple):
        return page(shaped(parts), filters, after=after, before=before, limit=limit), None
    if not first:
        both = [shaped(part) for part in parts]
        return page(both, filters, after=after, before=before, limit=limit), None
    open_to_all, granted = parts
    head = list(
        _head(
            granted.annotate(part_total=Window(Count("pk"))), filters, limit, columns, "part_total"
        )
    )
    granted_total = int(head[0].part_total) if head else 0
    return page([shaped(open_to_all), head], filters, limit=limit), granted_total


def _head(
    part: QuerySet[Connection],
    filters: Filters,
    limit: int,
    columns: Sequence[str],
    *extra: str,
) -> QuerySet[Any]:
    """A part's first ``limit + 1`` rows in the filters' order (``columns`` and ``extra`` as
    named tuples, when given)."""
    shaped = part.values_list(*columns, *extra, named=True) if columns else part
    return shaped.order_by(*order_of(filters).order_by())[: _head_size(limit)]


def _head_size(limit: int) -> int:
    return max(1, min(limit, MAX_LIMIT)) + 1


def _first_page_baked(
    viewer: rbac.Viewer,
    project: Project,
    filters: Filters,
    limit: int,
    columns: tuple[str, ...],
) -> tuple[Page[Any], int | None] | None:
    """``page_counted``'s first page with each part's query baked per shape (the equality
    filters set, the sort, the columns, the page size); None where the parts are not read
    apart (a member with too many grants to inline, or a sort by name)."""
    granted_ids = rbac.granted_ids(viewer)
    if not viewer.sees_all and (granted_ids is None or order_of(filters).kind is not datetime):
        return None
    given = _equal_filters(filters)
    paths, values = tuple(given), tuple(given.values())
    shape = ("connections.first_page", paths, filters.sort_by, filters.sort_dir, columns, limit)

    def matching(project_id: int, values: tuple[Any, ...]) -> QuerySet[Connection]:
        rows = Connection.objects.filter(project_id=project_id)
        return _equal_filtered(rows, dict(zip(paths, values, strict=True)))

    def everything(project_id: int, *values: Any) -> QuerySet[Any]:
        return _head(matching(project_id, values), filters, limit, columns)

    if viewer.sees_all:
        found = baked.rows((*shape, "all"), everything, project.pk, *values)
        return page([found], filters, limit=limit), None

    def open_part(project_id: int, *values: Any) -> QuerySet[Any]:
        return _head(rbac.open_to_all(matching(project_id, values)), filters, limit, columns)

    def granted_part(project_id: int, ids: list[int], *values: Any) -> QuerySet[Any]:
        granted = rbac.granted_part(matching(project_id, values), ids)
        counted = granted.annotate(part_total=Window(Count("pk")))
        return _head(counted, filters, limit, columns, "part_total")

    newest = (
        rbac.granted_newest(viewer, project.pk, descending=filters.sort_dir == "desc")
        if not given and filters.sort_by == "created_at"
        else None
    )
    if newest is not None:
        # The granted part ordered and counted from the grants' copies of their connections'
        # project, creation time and organization-level role (ConnectionGrant): only the rows
        # of the page are read, not every granted row; both parts in one query (each part's
        # first rows through its own index, UNION ALL, ordered).
        def both_parts(project_id: int, ids: list[int]) -> QuerySet[Any]:
            granted = _head(
                rbac.granted_part(matching(project_id, ()), ids), filters, limit, columns
            )
            sign = "-" if filters.sort_dir == "desc" else ""
            union = open_part(project_id).union(granted, all=True)
            return union.order_by(f"{sign}created_at", f"{sign}pk")[: _head_size(limit)]

        top = newest[: _head_size(limit)]
        if top:
            rows = baked.rows((*shape, "both parts"), both_parts, project.pk, top)
        else:
            rows = baked.rows((*shape, "open"), open_part, project.pk)
        return page([rows], filters, limit=limit), len(newest)
    open_rows = baked.rows((*shape, "open"), open_part, project.pk, *values)
    head = (
        baked.rows((*shape, "granted"), granted_part, project.pk, granted_ids, *values)
        if granted_ids
        else []
    )
    granted_total = int(head[0].part_total) if head else 0
    return page([open_rows, head], filters, limit=limit), granted_total


def list_count(
    viewer: rbac.Viewer,
    project: Project,
    filters: Filters,
    connections: QuerySet[Connection] | None = None,
    *,
    granted_total: int | None = None,
) -> tuple[int, bool]:
    """The list's count (``connections``: the filtered rows the viewer may read, when the
    caller has them; else scoped here where needed): exact from the counters when the
    viewer sees every connection and filters only by what they count (connector, profile,
    status, health, version); for a member, the two parts of their scope counted apart (each through
    its own index, ``rbac.scope_parts``); else counted up to the cap. (count, capped?)"""
    counted = counted_total(project, filters) if viewer.sees_all else None
    if counted is not None:
        return counted, False
    rows = apply_filters(Connection.objects.filter(project=project), filters)
    if granted_total is None:  # else counted with the page (``page_counted``)
        parts = rbac.scope_parts(viewer, rows)
        if parts is None:
            return count_capped(rbac.scope(viewer, rows) if connections is None else connections)
        granted_total = parts[1].order_by().values("pk")[: COUNT_CAP + 1].count()
    if filters.active:
        # Only indexed columns selected: the organization-wide part is an index-only scan.
        n = rbac.open_to_all(rows).order_by().values("org_role")[: COUNT_CAP + 1].count()
    else:  # a member's first look at the list: baked (the ORM's count cost ~1 ms of Python)
        found = baked.rows("connections.open_count", _open_count, project.pk)
        n = found[0] if found else 0  # no row: the project has no connections
    n += granted_total
    return min(n, COUNT_CAP), n > COUNT_CAP


class _CappedCount(Subquery):
    """``(SELECT COUNT(*) FROM (subquery))``: how many rows a sliced subquery returns."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) AS capped)"
    output_field = IntegerField()


def _open_count(project_id: int) -> QuerySet[Connection, int]:
    """The rows of the project open to its organization, counted up to the cap: the same
    index-only scan as ``list_count``'s ORM count, as a values_list (so, baked), on one of the
    project's connections (none: no row, and nothing to count)."""
    in_project = Connection.objects.filter(project_id=project_id).order_by()
    capped = rbac.open_to_all(in_project).values("org_role")[: COUNT_CAP + 1]
    return in_project.annotate(n=_CappedCount(capped)).values_list("n", flat=True)[:1]


def count_capped(connections: QuerySet[Connection], cap: int | None = None) -> tuple[int, bool]:
    """How many rows match, counting no further than ``cap`` (bounded cost at any size)."""
    cap = COUNT_CAP if cap is None else cap
    n = connections.order_by().values("pk")[: cap + 1].count()
    return min(n, cap), n > cap


# --- One connection --------------------------------------------------------------------------


def grants_of(connection: Connection) -> QuerySet[ConnectionGrant]:
    """The connection's grants with their subjects (the Access tab and the rbac endpoint)."""
    # A user's public id in RBAC bodies is their membership's in the connection's organization.
    member_id = Membership.objects.filter(
        user_id=OuterRef("user_id"),
        organization_id=OuterRef("connection__project__organization_id"),
    ).values("public_id")[:1]
    return (
        ConnectionGrant.objects.filter(connection_id=connection.pk)
        .select_related("user", "team")
        .annotate(
            subject_public_id=Coalesce(
                Subquery(member_id), F("team__public_id"), output_field=UUIDField()
            )
        )
        .order_by("subject_type", "id")
    )


def config_labels(version_id: int | None) -> dict[str, str]:
    """Config field key → label of a version's ``authentication.configFields`` (the credentials
    shown on a connection's page), held in the per-process layer like ``version_labels``: at
    most one query, for that JSON path alone, never the whole definition."""
    if not version_id:
        return {}
    key = f"version-config-labels:{version_id}"
    held = freshness.local_get(key)
    if held is freshness.MISS:
        fields = (
            ConnectorVersion.objects.filter(pk=version_id)
            .values_list("definition__authentication__configFields", flat=True)
            .first()
        )
        held = tuple(
            (f["key"], str(f.get("label") or f["key"]))
            for f in (fields if isinstance(fields, list) else [])
            if isinstance(f, dict) and isinstance(f.get("key"), str)
        )
        freshness.local_set(key, held)
    return dict(held)


def credentials_masked(connection: Connection) -> list[tuple[str, str, bool]]:
    """(label, shown value, secret?) for each stored credential; secrets masked ••••1234."""
    labels = config_labels(connection.resolved_version_id)
    rows = [(labels.get(k, k), str(v), False) for k, v in connection.config_values.items()]
    secrets = decrypt_json(connection.config_secrets)
    rows += [(labels.get(k, k), mask(str(v)), True) for k, v in secrets.items()]
    if connection.oauth_tokens:
        tokens = decrypt_json(connection.oauth_tokens)
        for key, label in (("access_token", "Access token"), ("refresh_token", "Refresh token")):
            if tokens.get(key):
                rows.append((label, mask(str(tokens[key])), True))
        if tokens.get("scope"):
            scope = tokens["scope"]
            rows.append(
                ("Granted scopes", " ".join(scope) if isinstance(scope, list) else scope, False)
            )
    return rows


def masked_config(connection: Connection) -> dict[str, str]:
    """Config values for the API: plain ones as stored, secret ones masked."""
    return masked_values(connection.config_values, connection.config_secrets)


def masked_values(config_values: dict[str, Any], config_secrets: str) -> dict[str, str]:
    """``masked_config`` of a row read as values (its stored columns)."""
    values = {k: str(v) for k, v in config_values.items()}
    values.update(_shown("secrets", config_secrets, _masked))
    return values


def oauth_scopes(oauth_tokens: str) -> list[str]:
    """The scopes granted to a stored (encrypted) OAuth token set: ``scopes`` or ``scope``,
    as a list or a space-separated string."""
    return list(_shown("scopes", oauth_tokens, _scopes))


def _masked(secrets: dict[str, Any]) -> dict[str, str]:
    return {k: mask(str(v)) for k, v in secrets.items()}


def _scopes(token_set: dict[str, Any]) -> tuple[str, ...]:
    raw = token_set.get("scopes", token_set.get("scope")) or []
    return tuple(raw.split() if isinstance(raw, str) else (str(s) for s in raw))


# What the API shows of stored secrets (masked values, scopes), by ciphertext: decrypting was
# most of a list row's cost, and a page read again shows the same rows. A ciphertext never
# changes meaning (every write and every key rotation stores a new one; a tampered one is
# another string, decrypted and refused), the entries hold no secret, and they are dropped
# when the configured keys change (a retired key's ciphertexts are refused again at once).
SHOWN_MAX = 10_000
_shown_entries: dict[tuple[str, str], Any] = {}
_shown_by: list[object] = [None]  # the keys (crypto.fernet(), one per configuration) they hold


def _shown(kind: str, ciphertext: str, show: Any) -> Any:
    if not ciphertext:
        return show({})
    keys = fernet()
    if keys is not _shown_by[0]:
        _shown_entries.clear()
        _shown_by[0] = keys
    held = _shown_entries.get((kind, ciphertext))
    if held is None:
        held = show(decrypt_json(ciphertext))
        if len(_shown_entries) >= SHOWN_MAX:
            _shown_entries.clear()
        _shown_entries[(kind, ciphertext)] = held
    return held


# --- Version adoption --------------------------------------------------------------------------


class AdoptionRow(NamedTuple):
    version: str  # the version number, or "unresolved"
    now: int  # connections that version serves now
    last_served: int  # connections whose last request or check it served


def adoption(
    project: Project,
    *,
    viewer: rbac.Viewer | None = None,
    connector_id: int | None = None,
    profile_id: int | None = None,
) -> list[AdoptionRow]:
    """How many of the connections ``viewer`` may see each version serves now (what they
    resolve to now: ``serving_now``) and how many it last served (``resolved_version``, the
    version of their last request or check), highest version first. For those who see every
    connection: read from the counters (``connections.counters``), the same cost at any size;
    a member's own, smaller scope (grants) is counted live."""
    if viewer is None or viewer.sees_all:
        groups = counters.by_profile_and_version(
            project.pk, connector_id=connector_id, profile_id=profile_id
        )
    else:
        rows = rbac.scope(viewer, Connection.objects.filter(project=project))
        if connector_id is not None:
            rows = rows.filter(connector_id=connector_id)
        if profile_id is not None:
            rows = rows.filter(profile_id=profile_id)
        groups = [
            (profile, version or 0, n)
            for profile, version, n in rows.values_list("profile_id", "resolved_version_id")
            .annotate(n=Count("pk"))
            .values_list("profile_id", "resolved_version_id", "n")
            .order_by()
        ]
    now: dict[int, int] = {}
    last: dict[int, int] = {}
    serving = serving_now(project, {profile for profile, _version, _n in groups})
    for profile, version, n in groups:
        last[version] = last.get(version, 0) + n
        now[serving.get(profile) or 0] = now.get(serving.get(profile) or 0, 0) + n
    ids = (now.keys() | last.keys()) - {0}
    labels = ConnectorVersion.objects.filter(pk__in=ids).order_by("-version_key")
    result = [
        AdoptionRow(number, now.pop(pk, 0), last.pop(pk, 0))
        for pk, number in labels.values_list("pk", "version")
    ]
    # Version 0, or one deleted meanwhile: unresolved.
    unresolved = AdoptionRow("unresolved", sum(now.values()), sum(last.values()))
    return [*result, unresolved] if unresolved.now or unresolved.last_served else result


def serving_now(project: Project, profile_ids: set[int]) -> dict[int, int | None]:
    """Profile id → the id of the version its connections resolve to now (None: none).

    The one place that says what serves a connection now: today every connection of a
    profile is served by the profile's resolution. Staged rollouts (a per-connection serving
    version) change this to a count per connection, here, and nowhere else."""
    if not profile_ids:
        return {}
    profiles = list(
        ConnectorProfile.objects.filter(project=project, pk__in=profile_ids).select_related(
            "project"
        )
    )
    resolved = resolve_profiles(project, profiles)
    return {pk: (found.id if found else None) for pk, found in resolved.items()}


def counts_by_profile(project: Project, viewer: rbac.Viewer | None = None) -> dict[int, int]:
    """Connections per profile, among those ``viewer`` may see: from the counters for None
    (an API key) and those who see all; a member's scope (grants) counted live."""
    if viewer is None or viewer.sees_all:
        return counters.by_profile(project.pk)
    rows = rbac.scope(viewer, Connection.objects.filter(project=project))
    return dict(
        rows.values_list("profile_id").annotate(n=Count("pk")).values_list("profile_id", "n")
    )


@dataclass(frozen=True, slots=True)
class VersionLabel:
    number: str
    title: str
    icon: str


def version_labels(version_ids: set[int | None]) -> dict[int, VersionLabel]:
    """Number, title and icon (from ``info``) of a page's versions, without loading their
    whole definitions: version id → label. Held in the per-process layer (core.freshness):
    every publish, overwrite and delete of a version moves the epoch that empties it; at most
    one query, for the versions not held."""
    ids = {pk for pk in version_ids if pk}
    labels: dict[int, VersionLabel] = {}
    for pk in ids:
        held = freshness.local_get(f"version-label:{pk}")
        if held is not freshness.MISS:
            labels[pk] = held
    missing = ids - labels.keys()
    if missing:
        rows = ConnectorVersion.objects.filter(pk__in=missing).values_list(
            "pk", "version", KT("definition__info__title"), KT("definition__info__assets__icon")
        )
        for pk, number, title, icon in rows:
            labels[pk] = VersionLabel(number, title or "", icon or "")
            freshness.local_set(f"version-label:{pk}", labels[pk])
    return labels


def connector_keys(known: dict[int, str], connections: list[Connection]) -> dict[int, str]:
    """Connector id → key for a page of connections: ``known`` (the project's profiles'
    connectors, already loaded), plus one query for any connector a row has beyond those."""
    missing = {c.connector_id for c in connections} - known.keys()
    if not missing:
        return known
    found = Connector.objects.filter(pk__in=missing).values_list("pk", "key")
    return {**known, **dict(found)}


# --- Reads of the connection pages -------------------------------------------------------------


def count_on_profile(profile: ConnectorProfile) -> int:
    """Every connection on the profile (an API key sees all of its project's): a counter."""
    return counters.on_profile(profile.pk)


def visible_one(viewer: rbac.Viewer, project: Project, connection_id: UUID) -> Connection | None:
    rows = with_moved_from_public_id(visible(viewer, project))
    return rows.filter(public_id=connection_id).first()


def offset_page(
    connections: QuerySet[Connection], filters: Filters, *, offset: int, limit: int
) -> list[dict[str, Any]]:
    """The API's page by offset: each row as a dict of ``API_ROW_VALUES`` (plain values, no
    model instances: building 200 of them, a connection with its profile, connector and
    version, cost 50 rows more than the rest of the request did; bench/connections.py)."""
    rows = list(ordered(connections, filters).values(*API_ROW_VALUES)[offset : offset + limit])
    # The profile a row moved from, by a second query only when a row on the page has one: a
    # fourth join (the profile table again) nearly tripled PostgreSQL's planning of the page
    # query (~0.3 → ~0.85 ms, on every request).
    moved = {row["moved_from_profile_id"] for row in rows} - {None}
    public_ids = (
        dict(ConnectorProfile.objects.filter(pk__in=moved).values_list("pk", "public_id"))
        if moved
        else {}
    )
    for row in rows:
        row["moved_from_profile__public_id"] = public_ids.get(row.pop("moved_from_profile_id"))
    return rows


# What the API's bodies show of a row, with its profile's public id and name, its connector's
# key and its resolved version's number (joined, in the same query); ``offset_page`` puts the
# public id of the profile it moved from in place of ``moved_from_profile_id``.
API_ROW_VALUES = (
    "public_id",
    "name",
    "connector__key",
    "profile__public_id",
    "profile__name",
    "origin_owner_id",
    "origin_owner_name",
    "origin_username",
    "email",
    "status",
    "health",
    "health_checked_at",
    "last_healthy_at",
    "health_error",
    "resolved_version__version",
    "last_used_at",
    "created_at",
    "updated_at",
    "org_role",
    "moved_from_profile_id",
    "moved_at",
    "config_values",
    "config_secrets",
    "oauth_tokens",
    "token_expires_at",
)


def api_total(
    project: Project, filters: Filters, connections: QuerySet[Connection]
) -> tuple[int, bool]:
    """How many connections match for the API's list (an API key sees every connection of its
    project): (total, exact). Filtered only by what the counters count (connector, profile,
    status, health, version), the counters' exact figure at the same cost at any size; else a
    count bounded at COUNT_CAP and, above it, the planner's estimate (PostgreSQL; never below
    the cap), with ``exact`` false."""
    counted = counted_total(project, filters)
    if counted is not None:
        return counted, True
    total, over = count_capped(connections)
    if over:
        total = max(planner_estimate(connections) or 0, COUNT_CAP + 1)
    return total, not over


def visible_by_ids(viewer: rbac.Viewer, project: Project, ids: list[UUID]) -> list[Connection]:
    """The connections among the public ``ids`` that ``viewer`` may see (a bulk action's rows)."""
    return list(visible(viewer, project).filter(public_id__in=ids))


def version_numbers(project: Project, *, limit: int) -> list[str]:
    """Published version numbers this project can resolve to, highest first (bounded): the
    list's version filter. Held in the per-process layer (core.freshness) like the labels."""
    key = f"version-numbers:{project.pk}:{limit}"
    held = freshness.local_get(key)
    if held is not freshness.MISS:
        return list(held)
    seen: dict[str, None] = {}
    rows = (
        ConnectorVersion.objects.visible_to(project)
        .published()
        .order_by("-version_key")
        .values_list("version", flat=True)[:limit]
    )
    for number in rows:
        seen.setdefault(number, None)
    numbers = list(seen)
    freshness.local_set(key, tuple(numbers))
    return numbers


def activity_of(connection: Connection, *, limit: int) -> list[AuditEntry]:
    """The connection's newest audit entries."""
    return list(
        AuditEntry.objects.filter(
            target_type="connection", target_id=str(connection.pk), project_id=connection.project_id
        ).order_by("-id")[:limit]
    )


def teams_of(organization_id: int) -> QuerySet[Team]:
    """The organization's teams by name (who can be granted access)."""
    return Team.objects.filter(organization_id=organization_id).order_by("name")


class LinkProfile(NamedTuple):
    """A profile as the link panels' select shows it (no setup values or secrets)."""

    public_id: UUID
    name: str
    is_default: bool


def connector_profiles(project: Project, connector_id: int) -> list[LinkProfile]:
    """The project's profiles of one connector, the default first, then by name: the link
    panels' choices, so only what they show. Plain tuples, baked (core.baked): as deferred
    model instances they cost ~0.9 ms of CPU on every connection page (bench/connections.py)."""
    found = baked.rows("link_profiles", _link_profiles, project.pk, connector_id)
    return [LinkProfile(*row) for row in found]


def _link_profiles(
    project_id: int, connector_id: int
) -> QuerySet[ConnectorProfile, tuple[Any, ...]]:
    return (
        ConnectorProfile.objects.filter(project_id=project_id, connector_id=connector_id)
        .order_by("-is_default", "name", "pk")
        .values_list("public_id", "name", "is_default")
    )


@dataclass(frozen=True)
class ReauthLink:
    """The newest re-authentication link of a connection, for its overview (no token: only
    its digest is stored)."""

    session: ConnectSession
    state: str  # "used", "expired" or "unused"


def _newest_reauth(connection_id: int) -> QuerySet[ConnectSession, int]:
    rows = ConnectSession.objects.filter(account_id=connection_id)
    return rows.order_by("-created_at", "-pk").values_list("pk", flat=True)[:1]


def latest_reauth_session(connection: Connection) -> ReauthLink | None:
    """The newest connect session that re-authenticates ``connection`` (dashboard or API).
    Most connections never had one: its id alone first (a cheap query, ~0.35 ms of CPU less a
    page than loading the row with its profile; baked, ~0.5 ms less: core.baked), the row only
    when there is one."""
    newest = baked.rows("reauth.newest", _newest_reauth, connection.pk)
    if not newest:
        return None
    session = ConnectSession.objects.select_related("profile").get(pk=newest[0])
    if session.used_at is not None:
        state = "used"
    elif session.expires_at <= timezone.now():
        state = "expired"
    else:
        state = "unused"
    return ReauthLink(session, state)


# --- The project overview ------------------------------------------------------------------


def counts_by_status_and_health(project: Project, viewer: rbac.Viewer) -> dict[str, dict[str, int]]:
    """The overview's figures among the connections ``viewer`` may see, in one grouped query:
    {"status": {value: n}, "health": {value: n}, "total": {"all": n}}. From the counters for
    those who see every connection (the same cost at any size); over a member's scope (their
    grants and the organization-wide rows, each through its index) otherwise."""
    if viewer.sees_all:
        groups = counters.by_status_and_health(project.pk)
    else:
        rows = rbac.scope(viewer, Connection.objects.filter(project=project))
        groups = list(rows.order_by().values_list("status", "health").annotate(n=Count("pk")))
    status: dict[str, int] = {}
    health: dict[str, int] = {}
    total = 0
    for s, h, n in groups:
        status[s] = status.get(s, 0) + n
        health[h] = health.get(h, 0) + n
        total += n
    return {"status": status, "health": health, "total": {"all": total}}


REAUTH_TREND_DAYS = 14


def needs_reauth_per_day(
    project: Project, viewer: rbac.Viewer, *, days: int = REAUTH_TREND_DAYS
) -> list[tuple[date, int]]:
    """How many connections ``viewer`` may see entered needs_reauth on each of the last
    ``days`` days (UTC, today included; days without any as 0), from the audit log in one
    grouped query: a status change to needs_reauth ("connection.needs_reauth", made by hand,
    by the runtime or by a refused token refresh) or a health check that moved the status
    there ("connection.health_changed"). A connection counts once a day. [] if none."""
    today = timezone.now().astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    entries = AuditEntry.objects.filter(
        project=project,
        target_type=Connection._meta.model_name,
        action__in=["connection.needs_reauth", "connection.health_changed"],
        after__status=Status.NEEDS_REAUTH,
        created_at__gte=datetime.combine(first, time.min, tzinfo=UTC),
    ).exclude(before__status=Status.NEEDS_REAUTH)
    if not viewer.sees_all:
        visible_ids = rbac.scope(viewer, Connection.objects.filter(project=project)).values(
            text_id=Cast("pk", output_field=CharField(max_length=64))
        )
        entries = entries.filter(target_id__in=visible_ids)
    counted = dict(
        entries.annotate(day=TruncDate("created_at", tzinfo=UTC))
        .order_by()
        .values_list("day")
        .annotate(n=Count("target_id", distinct=True))
        .values_list("day", "n")
    )
    if not counted:
        return []
    return [
        (first + timedelta(days=i), counted.get(first + timedelta(days=i), 0)) for i in range(days)
    ]


def recent_failures(project: Project, viewer: rbac.Viewer, *, limit: int = 6) -> list[Connection]:
    """Connections whose last health check failed, most recent first (one query)."""
    rows = rbac.scope(viewer, Connection.objects.filter(project=project))
    return list(
        rows.filter(
            health__in=[Health.UNHEALTHY, Health.NEEDS_REAUTH], health_checked_at__isnull=False
        )
        .select_related("connector")
        .order_by("-health_checked_at", "-id")[:limit]
    )


# --- The connection's timeline ------------------------------------------------------------

TIMELINE_PAGE = 25


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str  # "health-<status>", "audit", or what another app's provider names
    title: str
    detail: str = ""
    actor: str = ""


# Labels by stored value (a value no choice knows shows as itself), for rows read as tuples.
HEALTH_LABELS: dict[str, str] = dict(Health.choices)
STATUS_LABELS: dict[str, str] = dict(Status.choices)
_AUDIT_TITLES = {
    "connection.health_changed": "Health changed",
    "connection.needs_reauth": "Needs re-authentication",
    "connection.reauthenticated": "Re-authenticated",
    "connection.tokens_refreshed": "Tokens refreshed",
    "connection.status_changed": "Status changed",
    "connection.disabled": "Disabled",
    "connection.active": "Enabled",
    "connection.created": "Connected",
    "connection.credentials_replaced": "Credentials replaced",
    "connection.renamed": "Renamed",
    "connection.grant_set": "Access granted",
    "connection.grant_removed": "Access removed",
    "connection.organization_role": "Organization role changed",
    "connection.moved": "Moved to another profile",
}


def _checks(
    connection_id: int, *before: datetime, limit: int
) -> QuerySet[HealthCheck, tuple[Any, ...]]:
    rows = HealthCheck.objects.filter(connection_id=connection_id)
    if before:
        rows = rows.filter(checked_at__lt=before[0])
    return rows.order_by("-checked_at", "-id").values_list("checked_at", "status", "detail")[:limit]


def _audit(
    project_id: int, target_id: str, *before: datetime, limit: int
) -> QuerySet[AuditEntry, tuple[Any, ...]]:
    rows = AuditEntry.objects.filter(
        target_type="connection", target_id=target_id, project_id=project_id
    )
    if before:
        rows = rows.filter(created_at__lt=before[0])
    return rows.order_by("-created_at", "-id").values_list(
        "created_at", "action", "before", "after", "actor_label"
    )[:limit]


def timeline(
    connection: Connection, *, before: datetime | None = None, limit: int = TIMELINE_PAGE
) -> tuple[list[TimelineItem], datetime | None]:
    """Health checks, audit entries (token refresh, re-authentication, moves, status and role
    changes) and whatever other apps add (``extensions.connection_timeline``: the request
    log), newest first, one page before ``before``; with the cursor of the next page. Two
    queries plus one per provider, whatever the history's length, baked per shape
    (core.baked: building and compiling them cost ~0.7 ms of CPU each a page)."""
    paged = (before,) if before is not None else ()
    shape = ("paged" if paged else "newest", limit + 1)
    checks = baked.rows(
        ("timeline.checks", *shape),
        partial(_checks, limit=limit + 1),
        connection.pk,
        *paged,
    )
    audit = baked.rows(
        ("timeline.audit", *shape),
        partial(_audit, limit=limit + 1),
        connection.project_id,
        str(connection.pk),
        *paged,
    )
    # The columns shown only, as tuples: no model instances (~20 µs a row).
    items = [
        TimelineItem(
            checked_at,
            f"health-{status}",
            f"Health check: {HEALTH_LABELS.get(status, status)}",
            detail,
        )
        for checked_at, status, detail in checks
    ]
    items += [
        TimelineItem(
            created_at,
            "audit",
            _AUDIT_TITLES.get(action, action),
            _changes(before_value, after_value),
            actor_label,
        )
        for created_at, action, before_value, after_value, actor_label in audit
    ]
    items += extensions.connection_timeline.items(
        "timeline_items", connection=connection, before=before, limit=limit + 1
    )
    items.sort(key=lambda item: item.at, reverse=True)
    page, more = items[:limit], len(items) > limit
    return page, (page[-1].at if more and page else None)


def _changes(before: Any, after: Any) -> str:
    def text(value: Any) -> str:
        if not value:
            return "–"
        if isinstance(value, dict):
            return ", ".join(f"{k}: {v if v not in ('', None) else '–'}" for k, v in value.items())
        return str(value)

    return f"{text(before)} → {text(after)}" if before or after else ""


EXPORT_BATCH = 1000
EXPORT_COLUMNS = (
    "connection_id",
    "name",
    "origin_owner_id",
    "email",
    "connector",
    "profile",
    "status",
    "health",
    "health_checked_at",
    "version",
    "created_at",
)


def export_batches(rows: QuerySet[Connection]) -> Iterator[list[tuple[Any, ...]]]:
    """The filtered list for the CSV export, in batches keyset by id (memory stays flat, one
    query per batch)."""
    rows = rows.order_by("pk").select_related("connector", "profile", "resolved_version")
    last = 0
    while True:
        batch = list(rows.filter(pk__gt=last)[:EXPORT_BATCH])
        if not batch:
            return
        last = batch[-1].pk
        yield [
            (
                c.public_id,
                c.name,
                c.origin_owner_id,
                c.email,
                c.connector.key,
                c.profile.name,
                c.status,
                c.health,
                c.health_checked_at.isoformat() if c.health_checked_at else "",
                c.resolved_version.version if c.resolved_version else "",
                c.created_at.isoformat(),
            )
            for c in batch
        ]


def bulk_run_of(project: Project, user: Any, run_id: UUID) -> BulkRun | None:
    """A "select all matching" run of this project, started by this user."""
    return BulkRun.objects.filter(project=project, user_id=user.pk, public_id=run_id).first()
