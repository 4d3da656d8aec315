"""Request latency by view for Prometheus (core.metrics.REQUEST_LATENCY): the resolved URL
name (or "unresolved" for a 404 without a route), never the raw path (unbounded, and it may
carry a connect token)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from core.metrics import REQUEST_LATENCY


class RequestMetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        view = (match.view_name or match._func_path) if match else "unresolved"
        REQUEST_LATENCY.labels(view, request.method or "", str(response.status_code)).observe(
            time.perf_counter() - started
        )
        return response
