"""A real webhook receiver on loopback: it verifies every delivery's signature with the
``standardwebhooks`` library (the Standard Webhooks reference implementation), against each
secret it knows, and records what arrived. Tests set how it answers (status, hang)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Arrival:
    path: str
    headers: dict[str, str]
    body: str
    verified_by: list[str]  # the known secrets whose signature is in webhook-signature

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def type(self) -> str:
        return str(self.payload["type"])


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    secrets: list[str] = field(default_factory=list)
    status: int = 200
    hang: float = 0.0  # seconds to wait before answering
    arrivals: list[Arrival] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hooks") -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def verified(self) -> list[Arrival]:
        with self.lock:
            return [a for a in self.arrivals if a.verified_by]

    def types(self) -> list[str]:
        return [a.type for a in self.verified()]

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [a.payload for a in self.verified() if a.type == event_type]


def _verified_by(secrets: list[str], body: str, headers: dict[str, str]) -> list[str]:
    found = []
    for secret in secrets:
        try:
            Webhook(secret).verify(body, headers)
        except WebhookVerificationError:
            continue
        found.append(secret)
    return found


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            headers = {k.lower(): v for k, v in self.headers.items()}
            with receiver.lock:
                secrets = list(receiver.secrets)
            arrival = Arrival(self.path, headers, body, _verified_by(secrets, body, headers))
            with receiver.lock:
                receiver.arrivals.append(arrival)
            if receiver.hang:
                time.sleep(receiver.hang)
            try:
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler


@contextmanager
def receiver_server() -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.daemon_threads = True
    receiver = Receiver(server)
    server.RequestHandlerClass = _handler(receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
