"""Benchmark of the MCP endpoint (issue 33), in one run against a provider on loopback: the
same action (``list_contacts``: one request + map_fields over 50 records, bench/runtime.py's
connector) through

- **api**: ``POST /api/v1/connections/{id}/actions/list_contacts``;
- **mcp**: ``POST /mcp`` with a JSON-RPC ``tools/call`` of ``bench_crm__list_contacts``
  (stateless: no initialize needed, as the SDK's stateless mode serves it);
- **mcp list**: ``POST /mcp`` ``tools/list``.

The three take turns call by call. Both through django.test.Client (DEBUG off, the full
middleware stack; the MCP view is async, run by the test client's handler as WSGI servers run
it). Prints the medians, p95, the ratio
mcp ÷ api (goal ≤ 1.3) and the queries of one warm call of each (goal ≤ 1.3×). Never fails on
speed. ``DATABASE_URL`` (PostgreSQL) and ``CACHE_URL`` (Redis) select the real parts.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from django.db import connection  # noqa: E402
from django.test.utils import (  # noqa: E402
    CaptureQueriesContext,
    override_settings,
    setup_test_environment,
)

from bench.runtime import contacts, world  # noqa: E402  (sets up Django)

REPEAT = int(os.environ.get("BENCH_REPEAT", "200"))


def interleaved(calls: list[Any], repeat: int) -> list[tuple[float, float]]:
    """p50 and p95 (ms) of each call, the calls taking turns (a shared machine's load hits
    them alike, so the ratios hold better than with one series after the other)."""
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(repeat):
        for n, call in enumerate(calls):
            start = time.perf_counter()
            call()
            times[n].append((time.perf_counter() - start) * 1000)
    return [(statistics.median(t), sorted(t)[int(len(t) * 0.95) - 1]) for t in times]


def main() -> None:
    from django.test import Client

    from projects.services import Actor, api_key_create
    from tests.provider import Answer, provider_server

    setup_test_environment()
    db_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    cache_url = os.environ.get("CACHE_URL", "")
    print(f"mcp bench: {connection.vendor}, cache {cache_url or 'locmem'}, {REPEAT} calls each")
    caches = (
        {"default": {"BACKEND": "core.cache.FailSoftRedisCache", "LOCATION": cache_url}}
        if cache_url.startswith("redis")
        else None
    )
    cache_settings = override_settings(CACHES=caches) if caches else override_settings()
    try:
        with provider_server() as provider, override_settings(DEBUG=False), cache_settings:
            provider.routes["/contacts"] = Answer(200, contacts())
            actor = Actor.system()
            project, account = world(provider.url, "bench-mcp")
            _full, full_key = api_key_create(actor=actor, project=project, name="api")
            _agent, agent_key = api_key_create(
                actor=actor, project=project, name="agent", scope="agent"
            )

            api = Client(headers={"Authorization": f"Bearer {full_key}"})
            api_url = f"/api/v1/connections/{account.public_id}/actions/list_contacts"
            mcp = Client(
                headers={
                    "Authorization": f"Bearer {agent_key}",
                    "Connection-Id": str(account.public_id),
                    "Accept": "application/json, text/event-stream",
                    "MCP-Protocol-Version": "2025-11-25",
                }
            )

            def through_api() -> Any:
                response = api.post(api_url, {"inputs": {}}, content_type="application/json")
                assert response.status_code == 200, response.content
                return response.json()["data"]

            def rpc(method: str, params: dict[str, Any]) -> Any:
                body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
                response = mcp.post("/mcp", json.dumps(body), content_type="application/json")
                assert response.status_code == 200, response.content
                return response.json()["result"]

            def through_mcp() -> Any:
                result = rpc("tools/call", {"name": "bench_crm__list_contacts", "arguments": {}})
                assert not result.get("isError"), result
                return result["structuredContent"]["data"]

            def list_tools() -> Any:
                return rpc("tools/list", {})["tools"]

            assert through_api() == through_mcp()  # the same action, the same answer
            api_ms, mcp_ms, list_ms = interleaved([through_api, through_mcp, list_tools], REPEAT)
            if os.environ.get("BENCH_PROFILE"):
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                profiler.enable()
                for _ in range(50):
                    through_mcp()
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
            queries = {}
            for name, call in (("api", through_api), ("mcp", through_mcp), ("list", list_tools)):
                with CaptureQueriesContext(connection) as seen:
                    call()
                queries[name] = len(seen.captured_queries)
    finally:
        connection.creation.destroy_test_db(db_name, verbosity=0)
    print(f"  api  POST …/actions/list_contacts  p50 {api_ms[0]:6.2f} ms  p95 {api_ms[1]:6.2f} ms")
    print(f"  mcp  tools/call                   p50 {mcp_ms[0]:6.2f} ms  p95 {mcp_ms[1]:6.2f} ms")
    print(f"  mcp  tools/list                   p50 {list_ms[0]:6.2f} ms  p95 {list_ms[1]:6.2f} ms")
    print(
        f"  mcp ÷ api: latency {mcp_ms[0] / api_ms[0]:.2f}× (goal ≤ 1.3), "
        f"queries {queries['mcp']} vs {queries['api']} "
        f"({queries['mcp'] / max(1, queries['api']):.2f}×), tools/list {queries['list']} queries"
    )


if __name__ == "__main__":
    main()
