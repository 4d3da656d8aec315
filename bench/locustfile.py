"""Locust users for bench/load.py: every user requests one target (BENCH_TARGET_PATH) in a
closed loop, without think time, alternating between the app servers (BENCH_HOSTS).

FastHttpUser (geventhttpclient), not HttpUser (requests): on a machine where Locust shares the
cores with the servers, requests' own cost per call capped every target near the same rate
(about 200 req/s here, the bare view included), which hid the servers' differences."""

from __future__ import annotations

import itertools
import os

from locust import FastHttpUser, constant, task

HOSTS = os.environ["BENCH_HOSTS"].split()
PATH = os.environ["BENCH_TARGET_PATH"]
HEADERS = {"Authorization": os.environ["BENCH_AUTH"]} if os.environ.get("BENCH_AUTH") else {}
if os.environ.get("BENCH_SESSION"):
    HEADERS["Cookie"] = f"sessionid={os.environ['BENCH_SESSION']}"
_next_host = itertools.cycle(HOSTS)


class TargetUser(FastHttpUser):
    host = HOSTS[0]
    wait_time = constant(0)

    def on_start(self) -> None:
        self.client.base_url = next(_next_host)

    @task
    def target(self) -> None:
        # No redirects followed: a session the servers refused would answer with the login
        # page (a 302, then 200) and be measured instead of the target.
        with self.client.get(
            PATH, headers=HEADERS, name=PATH, catch_response=True, allow_redirects=False
        ) as answer:
            if answer.status_code != 200:
                answer.failure(f"HTTP {answer.status_code}")
