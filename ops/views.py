"""Operations endpoints: /healthz, /readyz (for a load balancer; unauthenticated, no session,
no query beyond ``SELECT 1``) and /metrics (Prometheus text format, behind METRICS_TOKEN)."""

from __future__ import annotations

import hmac
import logging
import os

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

from .metrics import QueueDepthCollector

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """The process is up and answers (touches nothing else)."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> HttpResponse:
    """The database and every configured cache answer; 503 names the failing part only."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means not ready
        logger.warning("readyz: database unreachable (%s)", type(exc).__name__)
        checks["database"] = "unavailable"
    for alias in settings.CACHES:
        try:
            store = caches[alias]
            # The fail-soft Redis cache turns an outage into a miss: ask the client directly.
            client = getattr(store, "_cache", None)
            if client is not None and hasattr(client, "get_client"):
                client.get_client(write=False).ping()
            else:
                store.get("readyz-probe")
            checks[f"cache:{alias}"] = "ok"
        except Exception as exc:
            logger.warning("readyz: cache %s unreachable (%s)", alias, type(exc).__name__)
            checks[f"cache:{alias}"] = "unavailable"
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
    )


def _authorized(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return False  # no token configured: /metrics is off
    header = request.headers.get("Authorization", "")
    given = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics for ``Authorization: Bearer <METRICS_TOKEN>``; 404 when no token is
    set (nothing to discover), 401 for a wrong or missing one."""
    if not settings.METRICS_TOKEN:
        return HttpResponse(status=404)
    if not _authorized(request):
        response = HttpResponse("A valid metrics token is required.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    body = generate_latest(registry) + generate_latest(QueueDepthCollector.registry())
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
