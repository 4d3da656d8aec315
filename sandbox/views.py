"""A tiny provider API for the local demo, so health checks have something real to call on a
machine without internet. Served only where SANDBOX_ENABLED is on (local settings and tests,
never production).

``GET /sandbox/api/me`` with ``X-API-Key``: keys starting ``demo_live_`` are accepted (200),
``demo_slow_`` answer after 10 s (beyond the health check's timeout), ``demo_down_`` get 503,
anything else 401.
"""

from __future__ import annotations

import time

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

KEY_HEADER = "X-API-Key"


@require_GET
def api_me(request: HttpRequest) -> JsonResponse:
    key = request.headers.get(KEY_HEADER, "")
    if key.startswith("demo_live_"):
        return JsonResponse({"id": key[-6:], "name": "Sandbox account"})
    if key.startswith("demo_slow_"):
        time.sleep(10)
        return JsonResponse({"id": key[-6:]})
    if key.startswith("demo_down_"):
        return JsonResponse({"error": "maintenance"}, status=503)
    return JsonResponse({"error": "invalid_api_key"}, status=401)
