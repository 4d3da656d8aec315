"""The keyset pager's cursor codec and page boundaries."""

from __future__ import annotations

import base64
from datetime import datetime

import pytest
from django.db.models import F, QuerySet, Value
from django.db.models.functions import Coalesce
from django.http import QueryDict

from core.pager import (
    EPOCH,
    InvalidCursor,
    KeysetOrder,
    decode_cursor,
    encode_cursor,
    keyset_page,
    sort_key,
)
from projects.models import Organization

pytestmark = pytest.mark.django_db
BY_SLUG = KeysetOrder("slug", descending=False, kind=str)


@pytest.fixture
def orgs() -> list[Organization]:
    return [Organization.objects.create(name=f"Org {n}", slug=f"org-{n:02d}") for n in range(7)]


def test_pages_forward_and_back_cover_every_row_once(orgs: list[Organization]) -> None:
    rows = Organization.objects.all()
    first = keyset_page(rows, BY_SLUG, limit=3)
    assert [o.slug for o in first.items] == ["org-00", "org-01", "org-02"]
    assert first.prev is None and first.next is not None
    second = keyset_page(rows, BY_SLUG, after=first.next, limit=3)
    third = keyset_page(rows, BY_SLUG, after=second.next or "", limit=3)
    assert [o.slug for o in second.items] == ["org-03", "org-04", "org-05"]
    assert [o.slug for o in third.items] == ["org-06"] and third.next is None
    back = keyset_page(rows, BY_SLUG, before=third.prev or "", limit=3)
    assert [o.slug for o in back.items] == ["org-03", "org-04", "org-05"]
    assert back.prev is not None and back.next is not None
    assert keyset_page(rows, BY_SLUG, before=back.prev, limit=3).prev is None


def test_descending_order_by_date(orgs: list[Organization]) -> None:
    newest = KeysetOrder("created_at", descending=True, kind=datetime)
    page = keyset_page(Organization.objects.all(), newest, limit=4)
    later = keyset_page(Organization.objects.all(), newest, after=page.next or "", limit=4)
    seen = [o.pk for o in page.items + later.items]
    assert sorted(seen) == sorted(o.pk for o in orgs) and len(set(seen)) == 7


def test_cursor_round_trip_and_refusals(orgs: list[Organization]) -> None:
    cursor = encode_cursor(orgs[2], BY_SLUG)
    assert decode_cursor(cursor, BY_SLUG) == ("org-02", orgs[2].pk)
    forged = base64.urlsafe_b64encode(b'["org-02", true]').decode()
    for bad in ("not-a-cursor", forged, encode_cursor(orgs[2], KeysetOrder("name", kind=str))[:-3]):
        with pytest.raises(InvalidCursor):
            decode_cursor(bad, BY_SLUG)
    with pytest.raises(InvalidCursor):  # a text value where a date belongs
        decode_cursor(cursor, KeysetOrder("created_at"))


def test_a_cursor_names_its_sort_column(orgs: list[Organization]) -> None:
    newest = KeysetOrder("created_at")
    cursor = encode_cursor(orgs[2], newest)
    assert decode_cursor(cursor, newest) == (orgs[2].created_at, orgs[2].pk)
    with pytest.raises(InvalidCursor):  # a date too, but of another column
        decode_cursor(cursor, KeysetOrder("updated_at"))
    with pytest.raises(InvalidCursor):  # a date without its offset was not written here
        naive = base64.urlsafe_b64encode(b'["created_at","2026-01-01T00:00:00",3]').decode()
        decode_cursor(naive, newest)


def test_nulls_sort_as_the_given_value() -> None:
    order = KeysetOrder("last_used_at", nulls_as=EPOCH)
    assert order.reversed() == KeysetOrder("last_used_at", descending=False, nulls_as=EPOCH)
    assert sort_key("name") == F("name")
    assert sort_key("last_used_at", EPOCH) == Coalesce(F("last_used_at"), Value(EPOCH))
    assert order.order_by() == (order.key().desc(), F("id").desc())


def test_links_keep_filters_and_drop_old_cursors(orgs: list[Organization]) -> None:
    page = keyset_page(Organization.objects.all(), BY_SLUG, limit=3)
    prev_href, next_href = page.links(QueryDict("q=org&after=old"), base="/list/")
    assert prev_href == ""
    assert next_href == f"/list/?q=org&after={page.next}"


def test_retry_after_reads_the_rate_window() -> None:
    from core.throttle import retry_after

    assert [retry_after(r) for r in ("5/15m", "10/m", "3/2h", "1/d", "7/30s")] == [
        900,
        60,
        7200,
        86400,
        30,
    ]


def test_parts_merge_and_a_part_read_in_advance(orgs: list[Organization]) -> None:
    """Disjoint parts are merged in order; on a first page a part may come as its rows already
    read in order (the same page), never with a cursor."""
    newest = KeysetOrder("created_at", descending=True, kind=datetime)
    even = Organization.objects.filter(pk__in=[o.pk for o in orgs[::2]])
    odd = Organization.objects.filter(pk__in=[o.pk for o in orgs[1::2]])
    whole = keyset_page(Organization.objects.all(), newest, limit=4)
    merged = keyset_page([even, odd], newest, limit=4)
    odd_rows = list(odd.order_by(*newest.order_by())[:5])
    parts: list[QuerySet[Organization] | list[Organization]] = [even, odd_rows]
    in_advance = keyset_page(parts, newest, limit=4)
    assert [o.pk for o in merged.items] == [o.pk for o in whole.items]
    assert [o.pk for o in in_advance.items] == [o.pk for o in whole.items]
    assert in_advance.next == whole.next
    with pytest.raises(ValueError, match="first page only"):
        keyset_page(parts, newest, after=whole.next or "", limit=4)
