"""A real HTTP server on loopback that plays a provider's API and token endpoint.

Not a mock: requests go through sockets, HTTP parsing, headers and timeouts. Each test
sets what the routes answer and reads what was asked.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Answer:
    status: int = 200
    body: Any = field(default_factory=lambda: {"ok": True})
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    # "headers" or "body": that part is sent one byte per DRIP_INTERVAL for ``drip_for``
    # seconds (a server that never trips a read timeout), then the rest at once.
    drip: str = ""
    drip_for: float = 6.0


DRIP_INTERVAL = 1.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, list[str]]
    query: dict[str, list[str]] = field(default_factory=dict)
    body: str = ""


class Provider:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.server = server
        self.routes: dict[str, Answer | Callable[[Seen], Answer]] = {}
        self.seen: list[Seen] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else host
        return f"http://{name}:{port}"

    def calls(self, path: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.path == path]


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            path, _, query = self.path.partition("?")
            seen = Seen(
                self.command, path, dict(self.headers), parse_qs(body), parse_qs(query), body
            )
            with provider.lock:
                provider.seen.append(seen)
            route = provider.routes.get(path, Answer(404, {"error": "not_found"}))
            answer = route(seen) if callable(route) else route
            if answer.delay:
                time.sleep(answer.delay)
            payload = (
                answer.body.encode()
                if isinstance(answer.body, str)
                else json.dumps(answer.body).encode()
            )
            try:
                if answer.drip:
                    self._drip(answer, payload)
                    return
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                pass

        def _drip(self, answer: Answer, payload: bytes) -> None:
            head = f"HTTP/1.1 {answer.status} OK\r\nContent-Type: application/json\r\n"
            head += f"Content-Length: {len(payload)}\r\nConnection: close\r\n"
            if answer.drip == "headers":
                slow, rest = head.encode() + b"X-Drip: " + b"." * 1000, b"\r\n\r\n" + payload
            else:
                slow, rest = payload, b""
                self.wfile.write(head.encode() + b"\r\n")
            ends = time.monotonic() + answer.drip_for
            sent = 0
            while sent < len(slow) and time.monotonic() < ends:
                self.wfile.write(slow[sent : sent + 1])
                sent += 1
                time.sleep(DRIP_INTERVAL)
            self.wfile.write(slow[sent:] + rest)
            self.close_connection = True

        do_GET = do_POST = do_HEAD = do_PUT = do_PATCH = do_DELETE = _answer

    return Handler


@contextmanager
def provider_server() -> Iterator[Provider]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.daemon_threads = True
    provider = Provider(server)
    server.RequestHandlerClass = _handler(provider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
