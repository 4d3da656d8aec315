"""Every dashboard page and action of the tenancy issue × every kind of user.

anonymous → login redirect; another organization's user → 404; a role too low → 403;
wrong method → 405.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import reverse

from projects.models import ApiKey, AuditEntry, Membership, Role
from tests.conftest import WHO, Tenancy
from tests.factories import make_api_key, make_member, make_team

RANK = {"viewer": 1, "member": 2, "admin": 3, "owner": 4}
READ, MANAGE = 1, 3


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    need: int
    args: tuple[str, ...] = ()  # names of objects made by _objects()
    data: tuple[tuple[str, str], ...] = ()


ENDPOINTS = [
    Endpoint("project_home", "get", READ),
    Endpoint("connector_list", "get", READ),
    Endpoint("profile_list", "get", READ),
    Endpoint("connection_list", "get", READ),
    Endpoint("migration_list", "get", MANAGE),
    Endpoint("settings_general", "get", READ),
    Endpoint("settings_members", "get", READ),
    Endpoint("settings_api_keys", "get", MANAGE),
    Endpoint("settings_audit", "get", MANAGE),
    Endpoint("settings_general", "post", MANAGE, data=(("name", "Renamed"),)),
    Endpoint("member_add", "post", MANAGE, data=(("email", "new@example.com"), ("role", "member"))),
    Endpoint("member_role", "post", MANAGE, ("membership",), (("role", "viewer"),)),
    Endpoint("member_remove", "post", MANAGE, ("membership",)),
    Endpoint("team_add", "post", MANAGE, data=(("name", "Ops"),)),
    Endpoint("team_delete", "post", MANAGE, ("team",)),
    Endpoint(
        "team_member_add", "post", MANAGE, data=(("team", "{team}"), ("user", "{owner_user}"))
    ),
    Endpoint("team_member_remove", "post", MANAGE, ("team",), (("user", "{team_user}"),)),
    Endpoint("settings_api_keys", "post", MANAGE, data=(("name", "CI"),)),
    Endpoint("api_key_revoke", "post", MANAGE, ("api_key",)),
]


def _objects(t: Tenancy) -> dict[str, Any]:
    target = make_member(t.organization, Role.MEMBER, username="target")
    team = make_team(t.organization, "Support", target)
    api_key, _ = make_api_key(t.project)
    return {
        "membership": Membership.objects.get(user=target).pk,
        "team": team.pk,
        "team_user": target.pk,
        "owner_user": t.users["owner"].pk,
        "api_key": api_key.pk,
    }


def _call(
    t: Tenancy,
    who: str,
    ep: Endpoint,
    objects: dict[str, Any],
    *,
    htmx: bool = False,
    method: str | None = None,
) -> Any:
    url = reverse(ep.name, args=[t.project.slug, *(objects[a] for a in ep.args)])
    data = {k: v.format(**objects) for k, v in ep.data}
    headers = {"HX-Request": "true"} if htmx else {}
    return getattr(t.client(who), method or ep.method)(url, data, headers=headers)


def _expected(who: str, ep: Endpoint) -> int | None:
    """None means allowed (2xx or a redirect to the result)."""
    if who == "anonymous":
        return 302
    if who == "stranger":
        return 404
    return None if RANK[who] >= ep.need else 403


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("ep", ENDPOINTS, ids=lambda e: f"{e.method}-{e.name}")
def test_matrix(tenancy: Tenancy, ep: Endpoint, who: str, htmx: bool) -> None:
    objects = _objects(tenancy)
    before = AuditEntry.objects.count()
    response = _call(tenancy, who, ep, objects, htmx=htmx)
    expected = _expected(who, ep)
    if expected is None:
        assert response.status_code in (200, 302), response.content[:500]
        if ep.method == "post":
            assert AuditEntry.objects.count() > before, "an allowed write is audited"
    else:
        assert response.status_code == expected
        if expected == 302:
            assert response["Location"].startswith(reverse("login"))
        if ep.method == "post":
            assert AuditEntry.objects.count() == before, "a refused write changes nothing"


@pytest.mark.parametrize("ep", ENDPOINTS, ids=lambda e: f"{e.method}-{e.name}")
def test_wrong_method_is_405(tenancy: Tenancy, ep: Endpoint) -> None:
    wrong = (
        "put"
        if ep.name in ("settings_general", "settings_api_keys")
        else ("post" if ep.method == "get" else "get")
    )
    assert _call(tenancy, "owner", ep, _objects(tenancy), method=wrong).status_code == 405


def test_objects_of_another_organization_are_404_through_ones_own_project(tenancy: Tenancy) -> None:
    """A stranger who owns another project cannot reach this organization's ids through it."""
    objects = _objects(tenancy)
    stranger = tenancy.client("stranger")
    own = tenancy.other_project.slug
    for name, arg in [
        ("member_role", "membership"),
        ("member_remove", "membership"),
        ("team_delete", "team"),
        ("api_key_revoke", "api_key"),
    ]:
        response = stranger.post(reverse(name, args=[own, objects[arg]]), {"role": "viewer"})
        assert response.status_code == 404, name
    assert Membership.objects.filter(pk=objects["membership"], role="member").exists()
    assert ApiKey.objects.get(pk=objects["api_key"]).revoked_at is None


def test_project_create_needs_org_admin(tenancy: Tenancy) -> None:
    url = reverse("project_create", args=[tenancy.organization.slug])
    expected = {"owner": 302, "admin": 302, "member": 403, "viewer": 403, "stranger": 404}
    for n, (who, status) in enumerate(expected.items()):
        response = tenancy.client(who).post(url, {"name": f"P{n}", "slug": f"new-{n}"})
        assert response.status_code == status, who
    assert tenancy.client("anonymous").get(url).status_code == 302
    assert tenancy.project.organization.projects.filter(slug__startswith="new-").count() == 2
