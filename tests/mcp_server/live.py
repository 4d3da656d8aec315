"""Live app servers for the MCP tests: the project's own settings on a SQLite file (as
`make run` has them), a gunicorn server (config/gunicorn.py, as `make cluster` and compose run
it) and a `manage.py runserver` (as development and `make run` do), each on a free loopback
port; the agent's end of it is the SDK's own client (`streamable_http_client` +
`ClientSession`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx2
from mcp.client import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.ops.cluster import free_port, serving


@contextmanager
def runserver(env: dict[str, str]) -> Iterator[str]:
    """``manage.py runserver`` (Django's development server, WSGI), until /healthz answers."""
    port = free_port()
    with serving(["manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"], env, port) as url:
        yield url


@contextmanager
def uvicorn(env: dict[str, str]) -> Iterator[str]:
    """uvicorn on ``config.asgi`` (Django's ASGI application), until /healthz answers."""
    port = free_port()
    command = ["-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1"]
    with serving([*command, "--port", str(port), "--no-access-log"], env, port) as url:
        yield url


class RoundRobin(httpx2.AsyncBaseTransport):
    """Sends each request to the next of ``bases`` (a load balancer without affinity) and
    records which one answered."""

    def __init__(self, bases: list[str]) -> None:
        self.urls = [httpx2.URL(b) for b in bases]
        self.inner = httpx2.AsyncHTTPTransport()
        self.served: list[str] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        target = self.urls[len(self.served) % len(self.urls)]
        request.url = request.url.copy_with(host=target.host, port=target.port)
        self.served.append(str(target))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@asynccontextmanager
async def mcp_session(
    base: str,
    key: str,
    *,
    connection_id: str | None = None,
    owner_id: str | None = None,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> AsyncIterator[ClientSession]:
    """An initialized MCP session with the SDK's client, for one connection or end user."""
    headers = {"Authorization": f"Bearer {key}"}
    if connection_id is not None:
        headers["Connection-Id"] = connection_id
    if owner_id is not None:
        headers["Origin-Owner-Id"] = owner_id
    options: dict[str, Any] = {"headers": headers, "timeout": 30}
    if transport is not None:
        options["transport"] = transport
    async with (
        httpx2.AsyncClient(**options) as http,
        streamable_http_client(f"{base}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session
