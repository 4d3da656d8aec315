"""Benchmark: what ``core.outbound.guarded_request`` costs over a plain requests call.

Against a keep-alive provider on loopback (tests.provider), interleaved in one run: a plain
``requests.Session().get`` (stream, body read) and ``guarded_request`` (the address guard,
the deadline watcher, the body cap, the peer check on a new connection). Prints the medians
and the ratio. Never fails on speed. No database needed.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

import requests  # noqa: E402

from core.outbound import guarded_request  # noqa: E402
from tests.provider import Answer, provider_server  # noqa: E402

REPEAT = int(os.environ.get("BENCH_REPEAT", "2000"))


def main() -> None:
    with provider_server() as provider:
        provider.routes["/rows"] = Answer(200, {"rows": [{"id": i} for i in range(50)]})
        url = provider.url + "/rows"
        plain = requests.Session()
        plain.trust_env = False
        timings: dict[str, list[float]] = {"requests": [], "guarded_request": []}
        for _ in range(REPEAT):
            started = time.perf_counter()
            with plain.get(url, timeout=(3, 5), allow_redirects=False, stream=True) as answer:
                answer.content  # noqa: B018
            timings["requests"].append(time.perf_counter() - started)
            started = time.perf_counter()
            guarded_request("GET", url, max_bytes=1 << 20, timeout=10)
            timings["guarded_request"].append(time.perf_counter() - started)
    base = statistics.median(timings["requests"])
    print(f"outbound bench: {REPEAT} calls each, keep-alive, loopback")
    for name, values in timings.items():
        median = statistics.median(values)
        p95 = statistics.quantiles(values, n=20)[-1]
        print(
            f"  {name:<16} p50 {median * 1e3:7.3f} ms  p95 {p95 * 1e3:7.3f} ms  "
            f"{median / base:5.2f}×"
        )


if __name__ == "__main__":
    main()
