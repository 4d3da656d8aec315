"""Where the platform's own outbound calls (health checks, OAuth token calls) may go.

Definitions and end users choose the URLs, so the servers must not become a probe of the
platform's own network (SSRF): outside local and test settings, only https to hosts whose
every address is public is allowed. The check resolves the host just before the call; a DNS
answer that changes between the check and the connection is not covered.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

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
