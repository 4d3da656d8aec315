"""core.outbound: the address guard in every form (production-like settings: private
networks refused), the check of the address a connection really reached, and the wall-clock
deadline against a real server on loopback that drips one byte a second (headers, body, the
TLS handshake)."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from core import deadline, outbound
from core.outbound import (
    DestinationRefused,
    OutboundTimeout,
    address_allowed,
    check_destination,
    guarded_request,
)
from tests.provider import Answer, Provider, provider_server

# (form, address): each must be refused when private networks are not allowed.
REFUSED = [
    ("IPv4 loopback", "127.0.0.1"),
    ("IPv4 loopback, elsewhere in 127/8", "127.3.2.1"),
    ("IPv4 private 10/8", "10.0.0.5"),
    ("IPv4 private 172.16/12", "172.16.0.1"),
    ("IPv4 private 192.168/16", "192.168.1.1"),
    ("IPv4 link-local (cloud metadata)", "169.254.169.254"),
    ("IPv4 shared address space (CGNAT)", "100.64.0.1"),
    ("IPv4 this network", "0.0.0.0"),
    ("IPv4 IETF protocol assignments", "192.0.0.1"),
    ("IPv4 benchmarking", "198.18.0.1"),
    ("IPv4 documentation", "203.0.113.5"),
    ("IPv4 reserved 240/4", "240.0.0.1"),
    ("IPv4 broadcast", "255.255.255.255"),
    ("IPv4 multicast", "224.0.0.1"),
    ("IPv4 multicast, global scope", "233.252.0.1"),
    ("IPv6 loopback", "::1"),
    ("IPv6 unspecified", "::"),
    ("IPv6 unique local", "fd00::1"),
    ("IPv6 link-local", "fe80::1"),
    ("IPv6 link-local with a zone", "fe80::1%25eth0"),
    ("IPv6 site-local (deprecated)", "fec0::1"),
    ("IPv6 documentation", "2001:db8::1"),
    ("IPv6 multicast", "ff02::1"),
    ("IPv6 multicast, global scope", "ff0e::1"),
    ("IPv4-mapped loopback", "::ffff:127.0.0.1"),
    ("IPv4-mapped private", "::ffff:10.0.0.1"),
    ("IPv4-mapped metadata", "::ffff:169.254.169.254"),
    ("IPv4-compatible loopback", "::127.0.0.1"),
    ("IPv4-compatible private", "::10.0.0.1"),
    ("IPv4-translated loopback (SIIT)", "::ffff:0:7f00:1"),
    ("6to4 of loopback", "2002:7f00:1::1"),
    ("6to4 of a private address", "2002:a00:1::1"),
    ("Teredo with a loopback client", "2001:0:4136:e378:8000:63bf:80ff:fffe"),
    ("Teredo with a public client", "2001:0:4136:e378:8000:63bf:f7f7:f7f7"),
    ("NAT64 of loopback", "64:ff9b::7f00:1"),
    ("NAT64 of a private address", "64:ff9b::a00:1"),
    ("NAT64 of metadata", "64:ff9b::a9fe:a9fe"),
    ("NAT64 local-use prefix", "64:ff9b:1::7f00:1"),
    ("NAT64 local-use prefix, public inside", "64:ff9b:1::808:808"),
    ("IPv4-mapped multicast", "::ffff:224.0.0.1"),
]

ALLOWED = [
    ("public IPv4", "93.184.216.34"),
    ("public IPv6", "2606:4700:4700::1111"),
    ("NAT64 of a public address", "64:ff9b::808:808"),
    ("6to4 of a public address", "2002:808:808::1"),
]


def _url(address: str) -> str:
    return f"https://[{address}]/x" if ":" in address else f"https://{address}/x"


@pytest.fixture
def production(settings: Any) -> None:
    settings.CONNECTION_ALLOW_PRIVATE_NETWORK = False


@pytest.mark.parametrize(("form", "address"), REFUSED, ids=[f for f, _ in REFUSED])
def test_every_non_global_form_is_refused(production: None, form: str, address: str) -> None:
    assert not address_allowed(ipaddress.ip_address(address.replace("%25", "%")))
    with pytest.raises(DestinationRefused):
        check_destination(_url(address))
    with pytest.raises(DestinationRefused):
        check_destination(_url(address), what="webhook endpoint")


@pytest.mark.parametrize(("form", "address"), ALLOWED, ids=[f for f, _ in ALLOWED])
def test_global_addresses_pass(production: None, form: str, address: str) -> None:
    assert address_allowed(ipaddress.ip_address(address))
    check_destination(_url(address))  # an address literal: no DNS needed


@pytest.mark.parametrize(
    "host",
    ["localhost", "localhost.", "2130706433", "127.1", "0x7f.0.0.1", "0177.0.0.1", "017700000001"],
)
def test_names_are_checked_after_resolution(production: None, host: str) -> None:
    """Names and the numeric forms the resolver reads (decimal, short, hex, octal) are
    judged by the addresses they resolve to."""
    with pytest.raises(DestinationRefused):
        check_destination(f"https://{host}/x")


@pytest.mark.parametrize(
    "url", ["http://93.184.216.34/x", "ftp://93.184.216.34/x", "https:///x", "https://[::1/x"]
)
def test_plain_http_and_non_urls_are_refused(production: None, url: str) -> None:
    with pytest.raises(DestinationRefused):
        check_destination(url)


@pytest.fixture
def provider() -> Iterator[Provider]:
    with provider_server() as server:
        yield server


def test_the_address_reached_is_the_address_checked(
    production: None, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A DNS answer that changes between the check and the connection (rebinding): the
    check sees a public address, the connection's own lookup a loopback one, and is refused
    before any connection is made. (The DNS answers are the only thing faked: DNS lies
    outside.)"""
    port = provider.server.server_address[1]
    answers = iter(["93.184.216.34", "127.0.0.1"])
    lookups: list[str] = []

    def rebinding(host: str, port: int, **kwargs: Any) -> list[Any]:
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(outbound, "_resolve", rebinding)
    with pytest.raises(DestinationRefused):
        guarded_request("GET", f"https://rebound.test:{port}/me", max_bytes=1000, timeout=5)
    assert lookups == ["rebound.test", "rebound.test"]
    assert provider.seen == []


def test_a_slow_dns_answer_ends_at_the_deadline(
    production: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def slow(host: str, port: int, **kwargs: Any) -> list[Any]:
        time.sleep(3)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]

    monkeypatch.setattr(outbound, "_resolve", slow)
    started = time.monotonic()
    with pytest.raises(OutboundTimeout):
        guarded_request("GET", "https://slow-dns.test/me", max_bytes=1000, timeout=1)
    assert time.monotonic() - started < 1 + 1
    # Outside a call (a webhook URL being saved): refused after DNS_SECONDS.
    monkeypatch.setattr(outbound, "DNS_SECONDS", 1.0)
    started = time.monotonic()
    with pytest.raises(DestinationRefused, match="in time"):
        check_destination("https://slow-dns.test/me")
    assert time.monotonic() - started < 1 + 1


@pytest.mark.parametrize("part", ["headers", "body"])
def test_a_dripping_server_is_cut_at_the_deadline(provider: Provider, part: str) -> None:
    provider.routes["/slow"] = Answer(200, {"pad": "x" * 50}, drip=part)
    started = time.monotonic()
    with pytest.raises(OutboundTimeout):
        guarded_request("GET", provider.url + "/slow", max_bytes=10_000, timeout=2)
    assert time.monotonic() - started < 3
    # The thread's next call works (the cut connection was not kept).
    provider.routes["/fast"] = Answer(200, {"ok": True})
    assert guarded_request("GET", provider.url + "/fast", max_bytes=1000, timeout=2).status == 200


def test_an_ambient_deadline_bounds_the_calls_inside(provider: Provider) -> None:
    provider.routes["/slow"] = Answer(200, {"ok": True}, delay=0.8)
    started = time.monotonic()
    with deadline.ambient(2), pytest.raises(OutboundTimeout):
        for _ in range(10):
            guarded_request("GET", provider.url + "/slow", max_bytes=1000, timeout=5)
    assert time.monotonic() - started < 3
    assert 2 <= len(provider.calls("/slow")) <= 3


def test_a_call_that_ends_in_time_is_not_cut_later(provider: Provider) -> None:
    """The watch ends with the call: a kept-alive connection is not shut down afterwards."""
    provider.routes["/fast"] = Answer(200, {"ok": True})
    assert guarded_request("GET", provider.url + "/fast", max_bytes=1000, timeout=0.5).status
    time.sleep(0.7)
    assert guarded_request("GET", provider.url + "/fast", max_bytes=1000, timeout=5).status == 200


def test_a_dripping_tls_handshake_is_cut_at_the_deadline() -> None:
    """The server answers the TLS ClientHello with a record header announcing 16 KiB, then
    one byte a second: no single read waits long, yet the handshake ends at the deadline
    (CPython bounds a handshake as a whole by the socket's timeout, which guarded_request
    sets to the connect timeout or the time left, whichever is shorter)."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def drip() -> None:
        connection, _ = server.accept()
        with connection:
            connection.recv(65536)  # the ClientHello
            connection.sendall(b"\x16\x03\x03\x40\x00")
            try:
                for _ in range(8):
                    connection.sendall(b"\x00")
                    time.sleep(1)
            except OSError:  # the client gave up
                pass

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        with pytest.raises(OutboundTimeout):
            guarded_request("GET", f"https://localhost:{port}/", max_bytes=1000, timeout=2)
        assert time.monotonic() - started < 2 + 1
    finally:
        server.close()
