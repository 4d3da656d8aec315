"""``/mcp``: a Django view that hands the request to the SDK's Streamable HTTP session manager
in its stateless, JSON-response mode.

Served as a Django URL, ``/mcp`` is answered wherever the project serves HTTP — ``manage.py
runserver``, ``make run``, gunicorn under ``make cluster`` and compose, uvicorn on
``config/asgi.py`` — with the same
middleware (security headers, metrics, allowed hosts) and no second app or server to run.
Each request gets its own manager (``StreamableHTTPSessionManager``, public API): stateless
mode keeps nothing between requests, so its ``run()`` (the SDK's lifespan and the task group a
stateless request needs) is entered and left per request; any app server answers any request.
The agent (key, connections) is checked here, before the SDK reads the body
(``mcp_server.auth``), and handed to the server's handlers in the ASGI scope.
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import Any

import anyio
from asgiref.sync import async_to_sync
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

from .auth import Agent, Refusal, agent_of
from .server import SCOPE_KEY, SERVER

# Headers the SDK's answer carries that Django sets itself.
HOP_HEADERS = frozenset({b"content-length", b"transfer-encoding", b"connection"})


def _refusal(refusal: Refusal) -> HttpResponse:
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32001, "message": refusal.message}}
    response = HttpResponse(
        json.dumps(body), status=refusal.status, content_type="application/json"
    )
    if refusal.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="mcp"'
    if refusal.retry_after is not None:
        response["Retry-After"] = str(refusal.retry_after)
    return response


def _scope(request: HttpRequest, agent: Agent) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": request.scheme,
        "path": request.path,
        "raw_path": request.path.encode(),
        "root_path": "",
        "query_string": request.META.get("QUERY_STRING", "").encode("latin-1"),
        "headers": [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in request.headers.items()
        ],
        "client": (request.META.get("REMOTE_ADDR") or "", 0),
        SCOPE_KEY: agent,
    }


@csrf_exempt
def mcp_endpoint(request: HttpRequest) -> HttpResponse:
    """A plain view (the key and headers are checked here, in the request's thread); the SDK
    runs in an event loop of asgiref's ``async_to_sync``, its handlers' database work coming
    back to this thread (``sync_to_async``) — one thread hop fewer than an async view under
    the WSGI servers the project runs."""
    try:
        agent = agent_of(request)
    except Refusal as refusal:
        return _refusal(refusal)
    return async_to_sync(_serve)(request, agent, request.body)


async def _serve(request: HttpRequest, agent: Agent, body: bytes) -> HttpResponse:
    answered = anyio.Event()
    received = False
    status = 500
    headers: list[tuple[bytes, bytes]] = []
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = list(message.get("headers") or [])
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                answered.set()

    manager = StreamableHTTPSessionManager(app=SERVER, stateless=True, json_response=True)
    async with manager.run():
        await manager.handle_request(_scope(request, agent), receive, send)
    response = HttpResponse(b"".join(chunks), status=status)
    for name, value in headers:
        if name.lower() not in HOP_HEADERS:
            response[name.decode("latin-1")] = value.decode("latin-1")
    return response
