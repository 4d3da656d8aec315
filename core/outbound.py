"""Where the platform's own outbound calls (health checks, OAuth token calls) may go.

Definitions and end users choose the URLs, so the servers must not become a probe of the
platform's own network (SSRF): outside local and test settings, only https to hosts whose
every address is public is allowed. The check resolves the host just before the call; a DNS
answer that changes between the check and the connection is not covered.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings


class DestinationRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def private_network_allowed() -> bool:
    return bool(getattr(settings, "CONNECTION_ALLOW_PRIVATE_NETWORK", False))


def check_destination(url: str, *, what: str = "provider") -> None:
    """Raise DestinationRefused unless ``url`` may be called from the platform; ``what`` names
    the other side in the messages (the provider, the webhook endpoint)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DestinationRefused(f"The {what} URL is not an http(s) URL.")
    if private_network_allowed():
        return
    if parts.scheme != "https":
        raise DestinationRefused(f"The {what} URL must use https.")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        raise DestinationRefused(f"The {what}'s host name does not resolve.") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise DestinationRefused(
                f"The {what}'s address is on a private or reserved network; the platform does "
                "not call such addresses."
            )


def http_timeout() -> tuple[float, float]:
    """(connect, read) seconds for every outbound call, from CONNECTION_HTTP_TIMEOUT."""
    connect, read = getattr(settings, "CONNECTION_HTTP_TIMEOUT", (3.0, 5.0))
    return float(connect), float(read)


class ResponseTooLarge(Exception):
    """The provider's answer is larger than the caller's cap (the rest is not read)."""


@dataclass(frozen=True)
class OutboundResponse:
    status: int
    body: bytes
    headers: dict[str, str]


_sessions = threading.local()


def _session() -> requests.Session:
    """One keep-alive session per thread (connection reuse to the same provider)."""
    session = getattr(_sessions, "session", None)
    if session is None:
        session = requests.Session()
        session.trust_env = False
        _sessions.session = session
    return session


def close_session() -> None:
    """Close this thread's keep-alive connections (tests: a live server's handler thread ends,
    and with it its database connection)."""
    session = getattr(_sessions, "session", None)
    if session is not None:
        session.close()
        _sessions.session = None


def guarded_request(
    method: str,
    url: str,
    *,
    max_bytes: int,
    headers: dict[str, str] | None = None,
    params: list[tuple[str, str]] | None = None,
    json: Any = None,
    auth: tuple[str, str] | None = None,
) -> OutboundResponse:
    """One call to a provider: the destination checked first, no redirect followed (a 3xx is
    the answer), the connect/read timeouts of ``http_timeout``, and at most ``max_bytes`` of
    body read (``ResponseTooLarge`` beyond). Raises DestinationRefused and requests'
    exceptions (``requests.Timeout`` for a timeout)."""
    check_destination(url)
    response = _session().request(
        method.upper(),
        url,
        headers=headers,
        params=params,
        json=json,
        auth=auth,
        timeout=http_timeout(),
        allow_redirects=False,
        stream=True,
    )
    try:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise ResponseTooLarge(f"The provider's answer is larger than {max_bytes:,} bytes.")
        body = bytearray()
        for chunk in response.iter_content(chunk_size=64 * 1024):
            body += chunk
            if len(body) > max_bytes:
                raise ResponseTooLarge(f"The provider's answer is larger than {max_bytes:,} bytes.")
        return OutboundResponse(response.status_code, bytes(body), dict(response.headers))
    finally:
        response.close()
