"""The demo's sandbox provider: "Check now" works on a machine without internet."""

from __future__ import annotations

from typing import Any

import pytest

from connections.health import connection_check_health
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
