"""Every outbound call of the platform: where it may go, and how long it may take.

Definitions, end users and webhook owners choose the URLs, so the servers must not become a
probe of the platform's own network (SSRF), and a slow server must not hold a worker. One
guard and one transport, used by the runtime's requests, health checks, token refresh, the
OAuth code exchange and webhook deliveries:

- ``check_destination(url)``: outside local and test settings, only https to hosts whose
  every address is global (``address_allowed``: no loopback, private, link-local, shared,
  reserved or multicast address, in any IPv6 form that embeds one). Checked on the URL
  before the call; then the connection resolves the name again, checks those addresses and
  connects only to them (a DNS answer that changed in between, DNS rebinding, reaches
  nothing). Lookups run in a small thread pool, so they end at the call's deadline too.
- ``guarded_request(...)``: one wall-clock deadline over connect, headers and body (the
  watcher of ``core.deadline``), the body streamed up to a size cap, no redirect followed,
  no cookie kept, no proxy or netrc from the environment.

Built on requests (which the project and requests-oauthlib already use) over urllib3: neither
has a wall-clock deadline (urllib3's ``Timeout(total=...)`` bounds each socket operation,
and its documentation recommends a watcher thread); httpx's timeouts are per operation too.
The hooks into urllib3: a connection pool's ``ConnectionCls`` and the pool manager's
``pool_classes_by_scheme`` (public), ``connect()`` and ``request()`` overridden to put the
connection under the running call's deadline (public), and ``_new_conn()`` / ``_dns_host``
to connect to the checked addresses (private, stable through urllib3 2.x).
tests/core/test_outbound.py fails loudly if an upgrade stops calling them (the drip tests,
the changed DNS answer); bench/outbound.py measures what the transport costs.
"""

from __future__ import annotations

import http.cookiejar
import ipaddress
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from . import deadline


class DestinationRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ResponseTooLarge(Exception):
    """The provider's answer is larger than the caller's cap (the rest is not read)."""


class OutboundTimeout(requests.Timeout):
    """The call's wall-clock deadline passed (connect, headers and body together)."""


# --- Where a call may go -------------------------------------------------------------------

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # SIIT, RFC 2765
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # the well-known prefix, RFC 6052
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # local-use prefix, RFC 8215
_TEREDO = ipaddress.ip_network("2001::/32")


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, translated, NAT64,
    6to4, Teredo's client), if it carries one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _IPV4_COMPATIBLE or address in _IPV4_TRANSLATED or address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_allowed(address: Address) -> bool:
    """Whether the platform may call ``address`` when private networks are not allowed: a
    global unicast address, and the IPv4 address it embeds (if any) global too."""
    if address.is_multicast or address.is_unspecified or address.is_loopback:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id or address in _NAT64_LOCAL or address in _TEREDO:
            return False
        if address.is_site_local or address.is_link_local:
            return False
        embedded = embedded_ipv4(address)
        if embedded is not None:
            return address_allowed(embedded)
        if address.is_reserved:
            return False
    return address.is_global and not address.is_reserved and not address.is_link_local


DNS_SECONDS = 5.0  # a lookup outside any call (a webhook URL being saved)
_resolve = socket.getaddrinfo  # the DNS lookup (tests replace it: DNS lies outside)
_lookups: ThreadPoolExecutor | None = None
_lookups_guard = threading.Lock()


def _lookup_pool() -> ThreadPoolExecutor:
    """Lookups run here so that the caller can stop waiting at its deadline (getaddrinfo
    cannot be interrupted); a slow DNS server ties up at most these threads."""
    global _lookups
    with _lookups_guard:
        if _lookups is None:
            _lookups = ThreadPoolExecutor(max_workers=8, thread_name_prefix="outbound-dns")
        return _lookups


def _forget_lookup_pool() -> None:
    global _lookups
    _lookups = None  # a forked worker has none of the parent's threads


os.register_at_fork(after_in_child=_forget_lookup_pool)


class _SlowLookup(Exception):
    """The host name did not resolve before the deadline."""


def private_network_allowed() -> bool:
    return bool(getattr(settings, "CONNECTION_ALLOW_PRIVATE_NETWORK", False))


def _refused(what: str) -> DestinationRefused:
    return DestinationRefused(
        f"The {what}'s address is on a private or reserved network; the platform does "
        "not call such addresses."
    )


def allowed_addresses(host: str, port: int, *, what: str, at: float | None) -> list[Address]:
    """Every address ``host`` stands for (itself, or what it resolves to by ``at``, a
    monotonic time), each one allowed; DestinationRefused otherwise, _SlowLookup when the
    lookup did not finish in time."""
    try:
        addresses: list[Address] = [ipaddress.ip_address(host)]
    except ValueError:
        future = _lookup_pool().submit(_resolve, host, port, proto=socket.IPPROTO_TCP)
        wait = (time.monotonic() + DNS_SECONDS if at is None else at) - time.monotonic()
        try:
            infos = future.result(timeout=max(0.0, wait))
        except FutureTimeout as exc:
            future.cancel()
            raise _SlowLookup from exc
        except (OSError, UnicodeError, ValueError) as exc:
            raise DestinationRefused(f"The {what}'s host name does not resolve.") from exc
        addresses = list(
            dict.fromkeys(ipaddress.ip_address(str(i[4][0]).split("%")[0]) for i in infos)
        )
    if not addresses or not all(address_allowed(a) for a in addresses):
        raise _refused(what)
    return addresses


def _check(url: str, what: str, at: float | None) -> None:
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError as exc:  # a bad port or IPv6 literal
        raise DestinationRefused(f"The {what} URL is not a valid URL.") from exc
    if parts.scheme not in ("http", "https") or not host:
        raise DestinationRefused(f"The {what} URL is not an http(s) URL.")
    if private_network_allowed():
        return
    if parts.scheme != "https":
        raise DestinationRefused(f"The {what} URL must use https.")
    allowed_addresses(host, port or 443, what=what, at=at)


def check_destination(url: str, *, what: str = "provider") -> None:
    """Raise DestinationRefused unless ``url`` may be called from the platform; ``what`` names
    the other side in the messages (the provider, the webhook endpoint)."""
    try:
        _check(url, what, None)
    except _SlowLookup as exc:
        raise DestinationRefused(f"The {what}'s host name did not resolve in time.") from exc


_what = threading.local()  # the running call's ``what``, for the connection's messages


# --- The transport -------------------------------------------------------------------------


class _Watched:
    """A urllib3 connection under the running call's deadline, to a checked address."""

    sock: Any
    port: int
    timeout: Any
    _dns_host: str

    def _new_conn(self) -> Any:
        """The TCP connection, to an address resolved and checked here (outside local and
        test settings), within the call's deadline: what is checked is what is reached, so
        a DNS answer that changes after ``check_destination`` (rebinding) changes nothing.
        Each allowed address is tried in turn, as urllib3 does. urllib3's private method and
        attribute (``_new_conn``, ``_dns_host``), stable through 2.x; tests/core/
        test_outbound.py (a DNS answer that changes) fails if they stop being used."""
        if private_network_allowed():
            return super()._new_conn()  # type: ignore[misc]
        watch = deadline.current()
        at = watch.at if watch is not None else None
        name, timeout = self._dns_host, self.timeout
        what = str(getattr(_what, "value", "provider"))
        addresses = allowed_addresses(name.rstrip("."), self.port, what=what, at=at)
        failure: Exception | None = None
        try:
            for address in addresses:
                left = None if at is None else at - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._dns_host = str(address)
                if left is not None and isinstance(timeout, int | float):
                    self.timeout = min(timeout, left)
                try:
                    return super()._new_conn()  # type: ignore[misc]
                except (NewConnectionError, ConnectTimeoutError) as exc:
                    failure = exc
        finally:
            self._dns_host, self.timeout = name, timeout
        if failure is not None:
            raise failure
        raise _SlowLookup

    def connect(self) -> None:
        # The TLS handshake needs no watch: CPython bounds it as a whole by the socket's
        # timeout, which guarded_request sets to the connect timeout or the time left.
        deadline.watched(self)
        super().connect()  # type: ignore[misc]

    def request(self, *args: Any, **kwargs: Any) -> None:
        deadline.watched(self)  # a kept-alive connection: connect() is not called again
        super().request(*args, **kwargs)  # type: ignore[misc]
        # The socket itself too: an answer that closes the connection takes the socket
        # from the connection (``sock`` becomes None) while its body is still being read.
        deadline.watched(self.sock)


class _HTTPConnection(_Watched, HTTPConnection):
    pass


class _HTTPSConnection(_Watched, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


def http_timeout() -> tuple[float, float]:
    """(connect, read) seconds: the per-operation bounds inside every call's deadline, from
    CONNECTION_HTTP_TIMEOUT (a connection attempt; a silence between two reads)."""
    connect, read = getattr(settings, "CONNECTION_HTTP_TIMEOUT", (3.0, 5.0))
    return float(connect), float(read)


@dataclass(frozen=True)
class OutboundResponse:
    status: int
    body: bytes
    headers: dict[str, str]
    reason: str = field(default="")


_sessions = threading.local()


def _session() -> requests.Session:
    """One keep-alive session per thread (connection reuse to the same provider). It keeps
    no cookie: a session is shared by every connection and tenant the thread serves."""
    session = getattr(_sessions, "session", None)
    if session is None:
        session = requests.Session()
        session.trust_env = False
        session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        session.mount("http://", GuardedAdapter())
        session.mount("https://", GuardedAdapter())
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
    max_bytes: int | None,
    headers: dict[str, str] | None = None,
    params: list[tuple[str, str]] | None = None,
    json: Any = None,
    data: bytes | str | dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    timeout: float | None = None,
    what: str = "provider",
) -> OutboundResponse:
    """One outbound call: the destination checked first (and the address reached), no
    redirect followed (a 3xx is the answer), everything done within ``timeout`` seconds of
    wall clock (default RUNTIME_REQUEST_TIMEOUT, an action's request) or the ambient
    deadline (``core.deadline.ambient``) if sooner, and at most ``max_bytes`` of body read
    (``ResponseTooLarge`` beyond; ``None``: the body is not read at all).

    Raises DestinationRefused, ResponseTooLarge, ``OutboundTimeout`` (a ``requests.Timeout``,
    like the per-operation timeouts) and requests' other exceptions."""
    seconds = float(settings.RUNTIME_REQUEST_TIMEOUT if timeout is None else timeout)
    at = deadline.deadline_for(seconds)
    try:
        _check(url, what, at)
    except _SlowLookup as exc:
        raise OutboundTimeout(f"The {what}'s host name did not resolve in time.") from exc
    remaining = at - time.monotonic()
    if remaining <= 0:
        raise OutboundTimeout(f"No time was left for the call to the {what}.")
    connect, read = http_timeout()
    _what.value = what
    with deadline.watching(at) as watch:
        try:
            result = _call(
                method,
                url,
                max_bytes=max_bytes,
                headers=headers,
                params=params,
                json=json,
                data=data,
                auth=auth,
                timeout=(min(connect, remaining), read),  # the watcher ends reads at the deadline
            )
        except DestinationRefused:
            raise
        except _SlowLookup as exc:
            raise OutboundTimeout(f"No complete answer within {seconds:g} s.") from exc
        except Exception as exc:
            if watch.fired or time.monotonic() >= at:  # cut by the watcher or a socket timeout
                raise OutboundTimeout(f"No complete answer within {seconds:g} s.") from exc
            raise
        if watch.fired:  # the stream was cut: what was read is not the answer
            raise OutboundTimeout(f"No complete answer within {seconds:g} s.")
    return result


def _call(
    method: str, url: str, *, max_bytes: int | None, timeout: tuple[float, float], **kwargs: Any
) -> OutboundResponse:
    response = _session().request(
        method.upper(), url, timeout=timeout, allow_redirects=False, stream=True, **kwargs
    )
    try:
        if max_bytes is None:
            return OutboundResponse(
                response.status_code, b"", dict(response.headers), response.reason or ""
            )
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise ResponseTooLarge(f"The provider's answer is larger than {max_bytes:,} bytes.")
        body = bytearray()
        for chunk in response.iter_content(chunk_size=64 * 1024):
            body += chunk
            if len(body) > max_bytes:
                raise ResponseTooLarge(f"The provider's answer is larger than {max_bytes:,} bytes.")
        return OutboundResponse(
            response.status_code, bytes(body), dict(response.headers), response.reason or ""
        )
    finally:
        response.close()
