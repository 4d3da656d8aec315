"""core.baked: a baked query answers exactly what the ORM's queryset does, for new values each
call, in one query; what it cannot bake it leaves to the ORM; a misuse fails loudly."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import F, Q, QuerySet
from django.test.utils import CaptureQueriesContext

from core import baked
from core.lookups import AnyOf
from profiles.models import ConnectorProfile
from projects.models import Project

from ..factories import make_organization, make_profile, make_project, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_shapes() -> Iterator[None]:
    baked.forget()
    yield
    baked.forget()


def projects(organization_id: int, slug: str) -> QuerySet[Project, Any]:
    rows = Project.objects.filter(organization_id=organization_id).exclude(slug=slug)
    return rows.order_by("slug").values_list("pk", "slug", "created_at", named=True)


def test_named_rows_equal_the_orms_for_new_values_each_call() -> None:
    one, two = make_organization(), make_organization()
    a, b = make_project(one, "alpha"), make_project(one, "beta")
    c = make_project(two, "gamma")
    for organization, slug in ((one, "alpha"), (one, "zzz"), (two, "x"), (two, "gamma")):
        with CaptureQueriesContext(connection) as queries:
            found = baked.rows("projects", projects, organization.pk, slug)
        assert found == list(projects(organization.pk, slug))
        assert [type(row).__name__ for row in found] == ["Row"] * len(found)
        assert len(queries) == 1
    assert [row.slug for row in baked.rows("projects", projects, one.pk, "alpha")] == ["beta"]
    assert baked.rows("projects", projects, one.pk, "zzz")[0].created_at == a.created_at
    assert [row.pk for row in baked.rows("projects", projects, two.pk, "")] == [c.pk]
    assert b.pk in [row.pk for row in baked.rows("projects", projects, one.pk, "alpha")]
    assert "projects" in baked._shapes and baked._shapes["projects"] is not None


def test_a_32_bit_id_compared_twice_in_an_or_is_baked() -> None:
    """A member's grants compare the user's id twice, once through a join: both stand-ins
    must reach the SQL (Django drops a comparison with an int out of the column's range)."""
    from django.contrib.auth.models import User

    organization = make_organization()
    make_project(organization, "kept")

    def either(user_id: int, other_id: int) -> QuerySet[User, Any]:
        rows = User.objects.filter(Q(pk=user_id) | Q(memberships__user_id=other_id))
        return rows.order_by("pk").values_list("username", flat=True)

    one, two = make_user("one"), make_user("two")
    assert baked.rows("either", either, one.pk, two.pk) == ["one"]
    assert baked._shapes["either"] is not None
    assert baked.rows("either", either, two.pk, 0) == ["two"]
    # One value used in two places lands in both.
    assert baked.rows("twice", lambda u: either(u, u), two.pk) == ["two"]
    assert baked._shapes["twice"] is not None
    assert baked.rows("twice", lambda u: either(u, u), one.pk) == ["one"]


def test_flat_and_plain_tuples_and_every_kind_of_value() -> None:
    organization = make_organization()
    made = [make_project(organization, f"p{i}") for i in range(4)]
    since = min(p.created_at for p in made) - timedelta(seconds=1)

    def flat(ids: list[int], when: Any) -> QuerySet[Project, Any]:
        rows = Project.objects.filter(AnyOf(F("pk"), ids), created_at__gt=when)
        return rows.order_by("pk").values_list("slug", flat=True)

    def plain(public_id: uuid.UUID) -> QuerySet[ConnectorProfile, Any]:
        return ConnectorProfile.objects.filter(public_id=public_id).values_list("pk", "name")

    for ids in ([made[0].pk], [made[1].pk, made[3].pk], [p.pk for p in made]):
        assert baked.rows("flat", flat, ids, since) == list(flat(ids, since))
    assert baked.rows("flat", flat, [made[0].pk], made[0].created_at) == []
    one, two = make_profile(made[0], name="one"), make_profile(made[1], name="two")
    assert baked.rows("plain", plain, one.public_id) == [(one.pk, "one")]
    assert baked.rows("plain", plain, two.public_id) == [(two.pk, "two")]
    assert baked.rows("plain", plain, uuid.uuid4()) == []


def test_what_is_not_baked_is_answered_by_the_orm() -> None:
    organization = make_organization()
    make_project(organization, "kept")

    def containing(text: str) -> QuerySet[Project, Any]:
        # The value reaches the database as "%text%": its stand-in is found nowhere.
        return Project.objects.filter(slug__contains=text).values_list("slug", flat=True)

    def by_ids(ids: list[int]) -> QuerySet[Project, Any]:
        return Project.objects.filter(pk__in=ids).values_list("slug", flat=True)

    assert baked.rows("contains", containing, "ep") == ["kept"]
    assert baked.rows("contains", containing, "zz") == []
    assert baked._shapes["contains"] is None
    # None, a bool or an empty list shape the query: never baked, always the ORM's answer.
    assert baked.rows("ids", by_ids, []) == []
    assert "ids" not in baked._shapes
    # Model instances are not baked either.
    models = baked.rows(
        "models", lambda o: Project.objects.filter(organization_id=o), organization.pk
    )
    assert [p.slug for p in models] == ["kept"] and baked._shapes["models"] is None


def test_a_build_that_branches_on_a_value_fails_the_tests_and_is_unbaked_in_production(
    caplog: pytest.LogCaptureFixture,
) -> None:
    organization = make_organization()
    make_project(organization, "one")
    make_project(organization, "two")

    def branching(slug: str) -> QuerySet[Project, Any]:  # wrong: the key does not say "one"
        rows = Project.objects.filter(slug__in=["one", "two"] if slug == "one" else [slug])
        return rows.order_by("slug").values_list("slug", flat=True)

    assert baked.rows("branching", branching, "two") == ["two"]
    with pytest.raises(AssertionError, match="differs from the ORM"):
        baked.rows("branching", branching, "one")
    # Without VERIFY the first real call is still compared: a shape that differs is unbaked.
    baked.forget()
    baked.VERIFY = False
    try:
        with caplog.at_level("WARNING", logger="core.baked"):
            assert baked.rows("branching", branching, "one") == ["one", "two"]
        assert baked._shapes["branching"] is None
        assert "differs" in caplog.text
        assert baked.rows("branching", branching, "two") == ["two"]
    finally:
        baked.VERIFY = True
