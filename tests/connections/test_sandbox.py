"""The demo's sandbox provider: "Check now" works on a machine without internet."""

from __future__ import annotations

from typing import Any

import pytest

from connections.services.health import connection_check_health
from projects.services import Actor
from sandbox.demo import seed_sandbox_profile
from tests.factories import make_connection, make_project

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("key", "health"),
    [
        ("demo_live_abcdef123456", "healthy"),
        ("wrong-key-0000000", "needs_reauth"),
        ("demo_down_000000000", "unhealthy"),
    ],
)
def test_health_check_against_the_sandbox(
    live_server: Any, settings: Any, key: str, health: str
) -> None:
    settings.SITE_URL = live_server.url
    profile = seed_sandbox_profile(make_project())
    connection = make_connection(profile, config={"api_key": key})
    assert connection_check_health(actor=Actor.system(), connection=connection).status == health


def test_sandbox_is_off_in_production_settings() -> None:
    from config.settings import base

    assert base.SANDBOX_ENABLED is False
    assert base.OAUTH_ALLOW_HTTP_LOOPBACK is False


def test_demo_breaking_release_offers_a_migration(settings: Any) -> None:
    import io

    from django.core.management import call_command

    from connectors.models import ConnectorVersion
    from projects.models import Project

    call_command("seed_demo", stdout=io.StringIO())
    out = io.StringIO()
    call_command("demo_breaking_release", stdout=out)
    version = ConnectorVersion.objects.get(
        project=Project.objects.get(slug="acme-production"),
        connector__key="sandbox_hr",
        version="2.0.0",
    )
    assert version.reauth_required and version.change_level == "major"
    assert "re-authentication required: yes" in out.getvalue()
    call_command("demo_breaking_release", stdout=io.StringIO())  # idempotent
    assert ConnectorVersion.objects.filter(connector__key="sandbox_hr").count() == 2
