"""The list's "Last used" / "Last checked" sorts: NULLable columns paged by keyset on
COALESCE(column, epoch), forward and back in both directions, through their own indexes on
PostgreSQL; their column headers; a cursor of another sort refused."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection as db
from django.http import QueryDict
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from connections import counters, selectors
from connections.models import Connection
from core.pager import EPOCH, InvalidCursor, KeysetOrder, encode_cursor, keyset_page
from tests.conftest import Tenancy
from tests.factories import make_connection, make_profile

pytestmark = pytest.mark.django_db
NEW_SORTS = [("last_used_at", "sort-used"), ("health_checked_at", "sort-checked")]
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _order(field: str, direction: str) -> KeysetOrder:
    return selectors.order_of(selectors.Filters(sort_by=field, sort_dir=direction))


def _expected(rows: list[Connection], field: str, direction: str) -> list[int]:
    def key(c: Connection) -> tuple[datetime, int]:
        return (getattr(c, field) or EPOCH, c.pk)

    return [c.pk for c in sorted(rows, key=key, reverse=direction == "desc")]


@pytest.fixture
def eleven(tenancy: Tenancy) -> list[Connection]:
    """Eleven connections: four never used / checked, three sharing one moment (ties split
    across pages by id), the rest apart; the two columns in different orders."""
    profile = make_profile(tenancy.project)
    rows = [make_connection(profile, f"user-{n:02d}", name=f"User {n:02d}") for n in range(11)]
    used: list[datetime | None] = [
        None, T0, T0 + timedelta(hours=3), T0, None, T0 - timedelta(days=40),
        T0, None, T0 + timedelta(minutes=1, microseconds=5), None, T0 + timedelta(days=2),
    ]  # fmt: skip
    for n, c in enumerate(rows):
        checked = None if n % 3 == 0 else T0 - timedelta(hours=n % 4)
        Connection.objects.filter(pk=c.pk).update(last_used_at=used[n], health_checked_at=checked)
    return list(Connection.objects.filter(project=tenancy.project))


@pytest.mark.parametrize("direction", ["desc", "asc"])
@pytest.mark.parametrize("field", ["last_used_at", "health_checked_at"])
def test_pages_with_nulls_walk_forward_then_back(
    eleven: list[Connection], field: str, direction: str
) -> None:
    order = _order(field, direction)
    rows = Connection.objects.filter(project=eleven[0].project)
    expected = _expected(eleven, field, direction)
    # "never" is the oldest: last newest first, first oldest first.
    never = [c.pk for c in eleven if getattr(c, field) is None]
    edge = expected[-len(never) :] if direction == "desc" else expected[: len(never)]
    assert sorted(edge) == sorted(never)

    pages = [keyset_page(rows, order, limit=3)]
    while pages[-1].next:
        pages.append(keyset_page(rows, order, after=pages[-1].next, limit=3))
    assert [c.pk for p in pages for c in p.items] == expected
    assert len(pages) == 4 and pages[0].prev is None

    back = [pages[-1]]
    while back[-1].prev:
        back.append(keyset_page(rows, order, before=back[-1].prev, limit=3))
    # Back from the last page: the same pages (full ones), each row once, in order.
    walked = [c.pk for p in reversed(back) for c in p.items]
    assert walked == expected
    assert [len(p.items) for p in reversed(back)] == [3, 3, 3, 2]
    assert back[-1].prev is None


def test_a_cursor_of_one_sort_is_refused_by_another(eleven: list[Connection]) -> None:
    rows = Connection.objects.filter(project=eleven[0].project)
    used = keyset_page(rows, _order("last_used_at", "desc"), limit=3)
    assert used.next is not None
    for other in ("created_at", "updated_at", "health_checked_at"):
        with pytest.raises(InvalidCursor):
            keyset_page(rows, _order(other, "desc"), after=used.next, limit=3)
    # A "never" row's cursor holds the epoch, which pages on like any date.
    never = next(c for c in eleven if c.last_used_at is None)
    cursor = encode_cursor(never, _order("last_used_at", "desc"))
    field, value, pk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    assert (field, value, pk) == ("last_used_at", EPOCH.isoformat(), never.pk)


# --- The page --------------------------------------------------------------------------------


def _owners(html: str) -> list[str]:
    return re.findall(r'data-testid="connection-row" data-owner="([^"]+)"', html)


def _header(html: str, testid: str) -> re.Match[str] | None:
    return re.search(
        rf'<th class="sortable-header"( aria-sort="(\w+)")?><a href="([^"]+)" [^>]*'
        rf'data-testid="{testid}">([^<]*)</a>',
        html,
    )


@pytest.mark.parametrize(("field", "testid"), NEW_SORTS)
def test_headers_sort_by_last_used_and_last_checked(
    tenancy: Tenancy, eleven: list[Connection], field: str, testid: str
) -> None:
    client = tenancy.client("owner")
    url = reverse("connection_list", args=[tenancy.project.slug])
    html = client.get(url, {"status": "active"}).content.decode()
    header = _header(html, testid)
    assert header is not None and header.group(1) is None  # not the sort now
    href = header.group(3).replace("&amp;", "&")
    # A date column starts newest first; the filters stay, no cursor.
    assert QueryDict(href.split("?", 1)[1]).dict() == {
        "status": "active", "sort": field, "dir": "desc"
    }  # fmt: skip
    by_pk = {c.pk: c.origin_owner_id for c in eleven}
    seen: list[str] = []
    page = client.get(href + "&per_page=10")
    while True:
        html = page.content.decode()
        assert page.status_code == 200
        seen += _owners(html)
        found = re.search(r'rel="next" href="([^"]+)"', html)
        if not found:
            break
        page = client.get(url + found.group(1).replace("&amp;", "&"))
    assert seen == [by_pk[pk] for pk in _expected(eleven, field, "desc")]
    sorted_now = _header(html, testid)
    assert sorted_now is not None and sorted_now.group(2) == "descending"
    label = {"sort-used": "Last used", "sort-checked": "Last checked"}[testid]
    assert sorted_now.group(4) == f"{label} ▼"
    assert "dir=asc" in sorted_now.group(3)
    # The sort bar offers it, selected.
    assert f'<option value="{field}" selected>' in html
    ascending = client.get(sorted_now.group(3).replace("&amp;", "&")).content.decode()
    assert _owners(ascending) == [by_pk[pk] for pk in _expected(eleven, field, "asc")][:10]
    again = _header(ascending, testid)
    assert again is not None and again.group(2) == "ascending" and "▲" in again.group(4)


def test_hidden_column_has_no_sort_header(tenancy: Tenancy, eleven: list[Connection]) -> None:
    client = tenancy.client("owner")
    url = reverse("connection_list", args=[tenancy.project.slug])
    client.post(
        reverse("connection_columns", args=[tenancy.project.slug]),
        {"columns": ["status", "last_used"], "next": url},
    )
    html = client.get(url, {"sort": "health_checked_at"}).content.decode()
    assert _header(html, "sort-used") is not None
    assert _header(html, "sort-checked") is None and 'data-testid="last-checked"' not in html
    # The sort still applies (from the sort bar), only its header is not shown.
    by_pk = {c.pk: c.origin_owner_id for c in eleven}
    assert _owners(html) == [by_pk[pk] for pk in _expected(eleven, "health_checked_at", "desc")]
    assert '<option value="health_checked_at" selected>' in html


def test_forged_or_foreign_cursor_is_a_400(tenancy: Tenancy, eleven: list[Connection]) -> None:
    client = tenancy.client("owner")
    url = reverse("connection_list", args=[tenancy.project.slug])
    first = client.get(url, {"sort": "last_used_at", "per_page": "10"}).content.decode()
    found = re.search(r'rel="next" href="\?([^"]+)"', first)
    assert found is not None
    query = QueryDict(found.group(1).replace("&amp;", "&")).dict()
    assert client.get(url, query).status_code == 200
    forged = base64.urlsafe_b64encode(b'["last_used_at","1970-01-01T00:00:00",1]').decode()
    for params in (
        {**query, "sort": "created_at"},  # the cursor of another sort
        {**query, "sort": "health_checked_at"},
        {**query, "after": "not-a-cursor"},
        {**query, "after": forged},  # a naive date: not one the pager wrote
        {"sort": "last_used_at", "before": forged},
    ):
        response = client.get(url, params)
        assert response.status_code == 400, params
        assert (
            "The page cursor is not valid; start from the first page." in response.content.decode()
        )


def test_unknown_sort_is_a_400(tenancy: Tenancy, eleven: list[Connection]) -> None:
    url = reverse("connection_list", args=[tenancy.project.slug])
    response = tenancy.client("owner").get(url, {"sort": "last_used"})
    assert response.status_code == 400
    assert "sort_by must be one of" in response.content.decode()


def test_query_count_is_the_same_for_every_sort(tenancy: Tenancy, eleven: list[Connection]) -> None:
    client = tenancy.client("owner")
    url = reverse("connection_list", args=[tenancy.project.slug])
    client.get(url)  # warm
    counts = {}
    for sort in ("created_at", "name", "last_used_at", "health_checked_at"):
        for direction in ("desc", "asc"):
            with CaptureQueriesContext(db) as queries:
                first = client.get(url, {"sort": sort, "dir": direction, "per_page": "10"})
            found = re.search(r'rel="next" href="([^"]+)"', first.content.decode())
            assert found is not None
            with CaptureQueriesContext(db) as deeper:
                assert client.get(url + found.group(1).replace("&amp;", "&")).status_code == 200
            counts[sort, direction] = (len(queries), len(deeper))
    assert len(set(counts.values())) == 1, counts


# --- PostgreSQL: each page is a range of the sort's own index, never a sort ----------------


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(n for child in plan.get("Plans", []) for n in _nodes(child))]


def _page_plan(client: Client, url: str) -> list[dict[str, Any]]:
    with CaptureQueriesContext(db) as queries:
        assert client.get(url).status_code == 200
    [sql] = [q["sql"] for q in queries.captured_queries if "ORDER BY COALESCE" in q["sql"]]
    with db.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        (raw,) = cursor.fetchone()
    plan = raw if isinstance(raw, list) else json.loads(raw)
    return _nodes(plan[0]["Plan"])


@pytest.mark.postgres
@pytest.mark.parametrize("direction", ["desc", "asc"])
@pytest.mark.parametrize(
    ("field", "index"),
    [("last_used_at", "conn_project_used"), ("health_checked_at", "conn_project_checked")],
)
def test_postgres_pages_read_the_sort_index(
    tenancy: Tenancy, field: str, index: str, direction: str
) -> None:
    profile = make_profile(tenancy.project)
    template = make_connection(profile, "template-row")
    other = make_profile(tenancy.other_project)
    fields = {
        f.attname: getattr(template, f.attname)
        for f in Connection._meta.concrete_fields
        if not (f.primary_key or f.generated) and f.attname != "public_id"
    }
    bulk = []
    for n in range(6000):
        moment = None if n % 5 == 0 else T0 - timedelta(minutes=n % 997)
        target = profile if n % 3 else other
        bulk.append(
            Connection(
                **{
                    **fields,
                    "project_id": target.project_id,
                    "profile_id": target.pk,
                    "origin_owner_id": f"bulk-{n}",
                    "last_used_at": moment,
                    "health_checked_at": moment,
                }
            )
        )
    Connection.objects.bulk_create(bulk, batch_size=1000)
    counters.recount()
    with db.cursor() as cursor:
        cursor.execute("ANALYZE connections_connection")
    client = tenancy.client("owner")
    url = reverse("connection_list", args=[tenancy.project.slug])
    order = _order(field, direction)
    rows = Connection.objects.filter(project=tenancy.project).order_by(*order.order_by())
    deep = encode_cursor(rows[3000], order)
    for page_url in (
        f"{url}?sort={field}&dir={direction}&per_page=25",
        f"{url}?sort={field}&dir={direction}&per_page=25&after={deep}",
        f"{url}?sort={field}&dir={direction}&per_page=25&before={deep}",
    ):
        nodes = _page_plan(client, page_url)
        kinds = [(n["Node Type"], n.get("Relation Name", "")) for n in nodes]
        assert not {"Sort", "Incremental Sort"} & {k for k, _r in kinds}, (page_url, kinds)
        assert ("Seq Scan", "connections_connection") not in kinds, (page_url, kinds)
        scans = [n for n in nodes if n["Node Type"] in ("Index Scan", "Index Only Scan")]
        assert any(n.get("Index Name") == index for n in scans), (page_url, kinds)


@pytest.mark.postgres
def test_postgres_a_members_open_rows_read_their_partial_index(tenancy: Tenancy) -> None:
    """A member's page reads the rows open to the organization through conn_open_created, in
    order (no walk of the whole project's index testing every row against the grants)."""
    from connections.models import ConnectionGrant, GrantRole, SubjectType

    profile = make_profile(tenancy.project)
    template = make_connection(profile, "template-row")
    fields = {
        f.attname: getattr(template, f.attname)
        for f in Connection._meta.concrete_fields
        if not (f.primary_key or f.generated) and f.attname != "public_id"
    }
    Connection.objects.bulk_create(
        [
            Connection(
                **{
                    **fields,
                    "origin_owner_id": f"bulk-{n}",
                    "org_role": "viewer" if n % 100 == 0 else "",
                    "created_at": T0 - timedelta(minutes=n),
                }
            )
            for n in range(6000)
        ],
        batch_size=1000,
    )
    counters.recount()
    member = tenancy.users["member"]
    for connection in Connection.objects.filter(org_role="").order_by("pk")[:40]:
        ConnectionGrant.objects.create(
            connection=connection, subject_type=SubjectType.USER, user=member, role=GrantRole.VIEWER
        )
    with db.cursor() as cursor:
        cursor.execute("ANALYZE connections_connection")
    url = reverse("connection_list", args=[tenancy.project.slug])
    with CaptureQueriesContext(db) as queries:
        assert tenancy.client("member").get(f"{url}?per_page=25").status_code == 200
    [sql] = [
        q["sql"]
        for q in queries.captured_queries
        if "ORDER BY" in q["sql"] and 'NOT ("connections_connection"."org_role" = \'\')' in q["sql"]
    ]
    with db.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        (raw,) = cursor.fetchone()
    plan = raw if isinstance(raw, list) else json.loads(raw)
    nodes = _nodes(plan[0]["Plan"])
    kinds = [(n["Node Type"], n.get("Index Name", n.get("Relation Name", ""))) for n in nodes]
    assert ("Index Scan", "conn_open_created") in kinds, kinds
    assert "Seq Scan" not in {k for k, _n in kinds}, kinds
    # The open part is read in order from its index; the only sort is the granted part's, of
    # the page's granted rows looked up by their ids (on PostgreSQL, in the same query).
    for sort in (n for n in nodes if n["Node Type"] in ("Sort", "Incremental Sort")):
        below = [(n["Node Type"], n.get("Index Name", "")) for n in _nodes(sort)[1:]]
        assert below and all(
            index == "connections_connection_pkey" or kind == "Limit" for kind, index in below
        ), kinds
