"""Prometheus metrics (prometheus_client), defined once here and updated where things happen;
served at /metrics by the ops app. With several gunicorn workers set PROMETHEUS_MULTIPROC_DIR
(an empty directory) so /metrics adds up every worker's figures."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUEST_LATENCY = Histogram(
    "connector_hub_request_seconds",
    "Request latency by view and method",
    ["view", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
RESOLUTION_CACHE = Counter(
    "connector_hub_resolution_cache_total",
    "Profile resolutions by where the answer came from (process, shared cache, database)",
    ["layer"],
)
TOKEN_REFRESHES = Counter(
    "connector_hub_token_refreshes_total",
    "Scheduled OAuth token refreshes by outcome",
    ["outcome"],
)
HEALTH_CHECKS = Counter(
    "connector_hub_health_checks_total",
    "Scheduled health checks by outcome",
    ["outcome"],
)
