"""With Redis down (a dead address): logins, sessions, read pages and the hosted connect page
keep working; a write that must invalidate the shared cache answers 503 and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from django.test import Client, override_settings
from django.urls import reverse

from connections.models import Connection
from connections.services.connect import connect_session_create
from connectors.models import ConnectorVersion
from profiles.services import connector_version_push
from projects.services import Actor
from tests.conftest import Tenancy
from tests.factories import PASSWORD, connector_yaml, make_api_key, make_profile

DEAD_REDIS = {
    "default": {"BACKEND": "core.cache.FailSoftRedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
}


@contextmanager
def redis_down() -> Iterator[None]:
    # override_settings(CACHES=...) drops django.core.cache.caches' connections (Django's
    # clear_cache_handlers), so `cache` is the dead Redis inside and the test cache after.
    with override_settings(CACHES=DEAD_REDIS):
        yield


def test_login_and_a_read_page_work(tenancy: Tenancy) -> None:
    profile = make_profile(tenancy.project)
    client = Client()
    with redis_down():
        response = client.post(reverse("login"), {"username": "owner", "password": PASSWORD})
        assert response.status_code == 302
        page = client.get(reverse("profile_detail", args=[tenancy.project.slug, profile.public_id]))
        assert page.status_code == 200
        assert "1.0.0" in page.content.decode(), "resolved from the database"
        home = client.get(reverse("project_home", args=[tenancy.project.slug]))
        assert home.status_code == 200


def test_the_hosted_connect_page_works(tenancy: Tenancy) -> None:
    profile = make_profile(tenancy.project)
    created = connect_session_create(
        actor=Actor.system(),
        project=profile.project,
        connector_profile_id=profile.public_id,
        origin_owner_id="cust-1",
    )
    path = urlsplit(created.url).path
    client = Client()
    with redis_down():
        assert client.get(path).status_code == 200
        response = client.post(path, {"config_api_key": "sk_live_outage_0123456789"})
    assert response.status_code == 200, response.content
    assert Connection.objects.filter(origin_owner_id="cust-1").exists()


def test_an_api_publish_is_503_and_changes_nothing(tenancy: Tenancy) -> None:
    raw = make_api_key(tenancy.project)[1]
    make_profile(tenancy.project)
    before = list(ConnectorVersion.objects.values_list("pk", "version", "published_at"))
    with redis_down():
        response = Client().post(
            "/api/v1/connectors/push",
            data=connector_yaml(version="1.1.0"),
            content_type="application/yaml",
            headers={"Authorization": f"Bearer {raw}"},
        )
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "unavailable" and "nothing was changed" in body["message"]
    assert response["Retry-After"] == "30"
    assert list(ConnectorVersion.objects.values_list("pk", "version", "published_at")) == before


def test_a_dashboard_publish_is_503_and_changes_nothing(tenancy: Tenancy) -> None:
    make_profile(tenancy.project)
    connector_version_push(
        actor=Actor.system(),
        project=tenancy.project,
        files=[("c.yaml", connector_yaml(version="1.1.0"))],
        draft=True,
    )
    draft = ConnectorVersion.objects.get(version="1.1.0")
    client = tenancy.client("owner")
    with redis_down():
        response = client.post(
            reverse("version_publish", args=[tenancy.project.slug, "acme_crm", draft.pk])
        )
    assert response.status_code == 503
    assert "nothing was changed" in response.content.decode()
    draft.refresh_from_db()
    assert draft.published_at is None


def test_a_pin_change_needs_no_invalidation_and_works(tenancy: Tenancy) -> None:
    # Resolution entries are keyed by the pin's text, so a new pin never meets a stale entry.
    profile = make_profile(tenancy.project)
    raw = make_api_key(tenancy.project)[1]
    with redis_down():
        response = Client().put(
            f"/api/v1/connector_profiles/{profile.public_id}/pinned_version",
            data=b'{"pinned_version": "1.x.x"}',
            content_type="application/json",
            headers={"Authorization": f"Bearer {raw}"},
        )
    assert response.status_code == 200, response.content
    assert response.json()["resolved_version"]["version"] == "1.0.0"
