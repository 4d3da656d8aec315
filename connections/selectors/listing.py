"""The connections list: who sees which rows (``visible``: every interface reads through it,
so pages, HTMX partials, the API and bulk actions never disagree), keyset and offset pages,
capped counts, the API's rows, the CSV export and "select all matching" runs."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db.models import (
    Count,
    F,
    IntegerField,
    QuerySet,
    Subquery,
    Window,
)

from connectors.models import Connector, ConnectorVersion
from core import baked, freshness
from core.pager import InvalidCursor, KeysetOrder, Page, keyset_page, planner_estimate
from profiles.models import ConnectorProfile
from profiles.serving import SERVING_COLUMNS, profile_for_serving
from projects.models import Project
from projects.services import ServiceError

from .. import counters, rbac
from ..models import (
    BulkRun,
    Connection,
)
from .filters import (
    Filters,
    _equal_filtered,
    _equal_filters,
    apply_filters,
    order_of,
    ordered,
)

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


# --- Keyset pages ----------------------------------------------------------------------------


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


def visible_one(viewer: rbac.Viewer, project: Project, connection_id: UUID) -> Connection | None:
    rows = with_moved_from_public_id(visible(viewer, project))
    return rows.filter(public_id=connection_id).first()


def offset_page(
    project: Project,
    connections: QuerySet[Connection],
    filters: Filters,
    *,
    offset: int,
    limit: int,
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
    profiles: dict[int, ConnectorProfile] = {}
    for row in rows:
        row["moved_from_profile__public_id"] = public_ids.get(row.pop("moved_from_profile_id"))
        values = {c: row.pop(f"profile__{c}") for c in SERVING_COLUMNS}
        profile_id = row.pop("profile_id")
        if profile_id not in profiles:
            profiles[profile_id] = profile_for_serving(project, profile_id, values)
        row["profile"] = profiles[profile_id]
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
    # What its serving version is computed from (profiles.serving), in the same join.
    "profile_id",
    *(f"profile__{column}" for column in SERVING_COLUMNS),
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


def export_batches(
    rows: QuerySet[Connection], order: KeysetOrder | None = None
) -> Iterator[list[tuple[Any, ...]]]:
    """The filtered list for the CSV export in the list's order (``order``: its sort, as
    ``filters.order_of`` makes it; default newest first), in batches walked by the same
    keyset cursor as the list's pages (memory stays flat, one query per batch)."""
    order = order or KeysetOrder("created_at", descending=True, kind=datetime)
    rows = rows.select_related("connector", "profile", "resolved_version")
    after = ""
    while True:
        page = keyset_page(rows, order, after=after, limit=EXPORT_BATCH)
        batch = page.items
        if not batch:
            return
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
        if page.next is None:
            return
        after = page.next


def bulk_run_of(project: Project, user: Any, run_id: UUID) -> BulkRun | None:
    """A "select all matching" run of this project, started by this user."""
    return BulkRun.objects.filter(project=project, user_id=user.pk, public_id=run_id).first()
