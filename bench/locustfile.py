"""Locust users for bench/load.py: every user requests one target (BENCH_TARGET_PATH) in a
closed loop, without think time, alternating between the app servers (BENCH_HOSTS)."""

from __future__ import annotations

import itertools
import os

from locust import HttpUser, constant, task

HOSTS = os.environ["BENCH_HOSTS"].split()
PATH = os.environ["BENCH_TARGET_PATH"]
HEADERS = {"Authorization": os.environ["BENCH_AUTH"]} if os.environ.get("BENCH_AUTH") else {}
COOKIES = {"sessionid": os.environ["BENCH_SESSION"]} if os.environ.get("BENCH_SESSION") else {}
_next_host = itertools.cycle(HOSTS)


class TargetUser(HttpUser):
    host = HOSTS[0]
    wait_time = constant(0)

    def on_start(self) -> None:
        self.client.base_url = next(_next_host)
        self.client.cookies.update(COOKIES)

    @task
    def target(self) -> None:
        with self.client.get(PATH, headers=HEADERS, name=PATH, catch_response=True) as answer:
            if answer.status_code != 200:
                answer.failure(f"HTTP {answer.status_code}")
