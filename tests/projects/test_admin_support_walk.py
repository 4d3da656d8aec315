"""Issue 30: support staff are view-only. A walk through every page of the Django admin as a
support user — every changelist, every action it offers run on every row, every change, add
and delete page posted to — changes nothing in the database and calls no provider."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib import admin
from django.db.models import Model
from django.test import Client
from django.urls import NoReverseMatch, reverse

from connections.models import Status
from connections.services.connections import connection_set_status
from events.services import endpoint_create
from projects.services import Actor
from projects.support import ensure_support_group
from tests.conftest import Tenancy
from tests.factories import make_api_key, make_connection, make_profile, make_team, make_user
from tests.provider import Answer, Provider, provider_server

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        server.routes["/me"] = Answer(200)
        yield server


@pytest.fixture
def world(tenancy: Tenancy, provider: Provider) -> None:
    make_api_key(tenancy.project)
    make_team(tenancy.organization, "Support", tenancy.users["member"])
    profile = make_profile(tenancy.project, base_url=provider.url, health_path="/me")
    for n in range(3):
        make_connection(profile, f"owner-{n}")
    refused = make_connection(profile, "owner-refused")
    connection_set_status(actor=SYSTEM, connection=refused, status=Status.NEEDS_REAUTH)
    endpoint_create(
        actor=SYSTEM, project=tenancy.project, url="https://hooks.example/in", events=["*"]
    )


def models() -> list[type[Model]]:
    """The admin's models with a table of their own (not a library's dashboard stand-in)."""
    return [m for m in admin.site._registry if m._meta.managed and not m._meta.proxy]


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every model the admin shows, field by field."""
    state: dict[str, list[tuple[Any, ...]]] = {}
    for model in models():
        names = [f.attname for f in model._meta.concrete_fields]
        rows = model._default_manager.order_by("pk").values_list(*names)
        state[model._meta.label] = [tuple(map(str, row)) for row in rows]
    return state


def admin_url(model: type[Model], view: str, *args: Any) -> str | None:
    try:
        return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)
    except NoReverseMatch:
        return None


def test_support_staff_change_nothing_anywhere_in_the_admin(
    world: None, provider: Provider
) -> None:
    support = make_user("sam-support", is_staff=True)
    support.groups.add(ensure_support_group())
    client = Client()
    client.force_login(support)
    before = snapshot()
    offered: dict[str, list[str]] = {}
    for model in models():
        changelist = admin_url(model, "changelist")
        assert changelist is not None
        page = client.get(changelist)
        if page.status_code != 200:
            continue
        actions = re.findall(r'<option value="([a-z_]+)"', page.content.decode())
        actions = [a for a in actions if a != ""]
        offered[model._meta.label] = actions
        pks = list(model._default_manager.values_list("pk", flat=True)[:20])
        for action in actions:
            client.post(
                changelist,
                {"action": action, "_selected_action": pks, "index": 0, "post": "yes"},
            )
        for pk in pks:
            for view in ("change", "delete"):
                url = admin_url(model, view, pk)
                if url:
                    client.post(url, {"post": "yes"})
        add = admin_url(model, "add")
        if add:
            client.post(add, {})
    assert offered, "the walk saw no changelist"
    assert "connections.Connection" in offered
    assert offered["connections.Connection"] == [], offered["connections.Connection"]
    assert provider.calls("/me") == []
    assert snapshot() == before
