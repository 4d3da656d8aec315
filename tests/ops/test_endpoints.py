"""/healthz, /readyz and /metrics: unauthenticated probes; metrics behind METRICS_TOKEN."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.factories import make_api_key, make_profile, make_project

pytestmark = pytest.mark.django_db


def test_healthz_touches_nothing() -> None:
    with CaptureQueriesContext(connection) as queries:
        answer = Client().get("/healthz")
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    assert len(queries) == 0
    assert "no-cache" in answer["Cache-Control"] and "Set-Cookie" not in answer


def test_readyz_checks_database_and_caches(settings: Any) -> None:
    answer = Client().get("/readyz")
    assert answer.status_code == 200
    assert answer.json()["checks"] == {"database": "ok", "cache:default": "ok"}
    settings.CACHES = {
        **settings.CACHES,
        "down": {
            "BACKEND": "core.cache.FailSoftRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2},
        },
    }
    answer = Client().get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["cache:down"] == "unavailable"


def test_metrics_need_the_token(settings: Any) -> None:
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics").status_code == 404
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert (
        Client().post("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token").status_code
        == 405
    )


def test_metrics_report_latency_by_view_and_resolution_layers(settings: Any) -> None:
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    project = make_project()
    profile = make_profile(project)
    _key, secret = make_api_key(project)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    for _ in range(3):
        assert api.get(f"/api/v1/connector_profiles/{profile.public_id}").status_code == 200
    body = (
        Client().get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token").content.decode()
    )
    assert (
        'connector_hub_request_seconds_count{method="GET",status="200",view="api:profile_detail"}'
        in body
    )
    assert 'connector_hub_resolution_cache_total{layer="process"}' in body
    assert "connector_hub_task_queue_depth" in body or "ImmediateBackend" in str(settings.TASKS)
    assert secret not in body and "/connect/" not in body
