"""Cache-Control: private, no-store on answers carrying account data (one middleware)."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from tests.conftest import Tenancy
from tests.factories import make_api_key


def directives(response) -> set[str]:
    return {d.strip() for d in response.get("Cache-Control", "").split(",") if d.strip()}


def test_dashboard_pages_are_private_and_not_stored(tenancy: Tenancy) -> None:
    client = tenancy.client("owner")
    for url in (
        reverse("home"),
        reverse("project_home", args=[tenancy.project.slug]),
        reverse("settings_api_keys", args=[tenancy.project.slug]),
    ):
        response = client.get(url, follow=True)
        assert response.status_code == 200
        assert {"private", "no-store"} <= directives(response), url
    htmx = client.get(
        reverse("settings_api_keys", args=[tenancy.project.slug]), headers={"HX-Request": "true"}
    )
    assert {"private", "no-store"} <= directives(htmx)


def test_api_answers_to_a_key_are_private_and_not_stored(tenancy: Tenancy) -> None:
    raw = make_api_key(tenancy.project)[1]
    headers = {"Authorization": f"Bearer {raw}"}
    for url in (
        "/api/v1/project",
        "/api/v1/connector_profiles",
        "/api/v1/connections/999999",
        "/api/v1/no-such-path",
    ):
        response = Client().get(url, headers=headers)
        assert {"private", "no-store"} <= directives(response), url


def test_anonymous_pages_and_static_files_are_left_alone(db: None) -> None:
    client = Client()
    # The login page keeps what Django's own view sets (never_cache).
    assert "no-store" in directives(client.get(reverse("login")))
    # API answers are never stored, errors included (a 401, a 405).
    assert {"private", "no-store"} <= directives(client.get("/api/v1/project"))
    assert {"private", "no-store"} <= directives(client.head("/api/v1/connections"))
    static = client.get("/static/favicon.svg")
    assert static.status_code == 200
    assert "no-store" not in directives(static)
