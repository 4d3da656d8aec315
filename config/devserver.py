"""``make run``'s address, kept in one place: the ``SITE_URL`` line of ``.env``.

The development server, the task worker and every ``manage.py`` command read ``SITE_URL`` from
``.env`` (the demo's sandbox connectors, the OAuth redirect URI and emailed links are built
from it), so they agree only if the server listens where that line says. ``make run HOST=...
PORT=...`` rewrites the line (either one alone keeps the other part); a plain ``make run``
serves what the line names, ``http://127.0.0.1:8000`` when there is none.

``python -m config.devserver [--host H] [--port P] [--env-file .env] [--check-free]`` updates
the file when asked and prints the ``address:port`` for ``runserver``. ``--check-free`` (make
run's first step) refuses, before anything is written or seeded, an address where something
already listens: the demo's sandbox connectors would otherwise be seeded for an address this
server then cannot serve.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_SITE_URL = "http://127.0.0.1:8000"
PREFIX = "SITE_URL="


def read_site_url(lines: list[str]) -> str | None:
    """The value of the last ``SITE_URL=`` line (as django-environ reads it), if any."""
    value = None
    for line in lines:
        if line.startswith(PREFIX):
            value = line[len(PREFIX) :].strip().strip("\"'")
    return value


def site_url_for(host: str, port: int) -> str:
    host = host.strip("[]")
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def parse(url: str) -> tuple[str, int]:
    """Host and port of a site URL the development server can serve: plain http, no path."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(
            f"SITE_URL {url!r} is not an address the development server can serve "
            "(http://host:port, no path); set HOST= and PORT= or fix the line in .env"
        )
    try:
        port = parts.port or 80
    except ValueError as exc:
        raise ValueError(f"SITE_URL {url!r} has an invalid port") from exc
    return parts.hostname, port


def addrport(url: str) -> str:
    host, port = parse(url)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def in_use(host: str, port: int) -> bool:
    """Whether something already listens on ``host:port`` (a bind with SO_REUSEADDR, as
    runserver's, fails only then: not for a port a stopped server left in TIME_WAIT)."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        )[0]
    except OSError:
        return False  # runserver will say what is wrong with the host
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError:
            return True
    return False


def with_site_url(lines: list[str], url: str) -> list[str]:
    """``lines`` with every ``SITE_URL=`` line replaced by one naming ``url``."""
    kept = [line for line in lines if not line.startswith(PREFIX)]
    return [*kept, PREFIX + url]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="")
    parser.add_argument("--port", default="")
    parser.add_argument("--env-file", default=os.environ.get("ENV_FILE", ".env"))
    parser.add_argument("--check-free", action="store_true")
    args = parser.parse_args(argv)

    path = Path(args.env_file)
    lines = path.read_text().splitlines() if path.is_file() else []
    current = read_site_url(lines)
    try:
        url = current or DEFAULT_SITE_URL
        if args.host or args.port:
            host, port = parse(url)
            if args.port and not (args.port.isdigit() and 0 < int(args.port) < 65536):
                raise ValueError(f"PORT {args.port!r} is not a port number")
            url = site_url_for(args.host or host, int(args.port) if args.port else port)
        address = addrport(url)
    except ValueError as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return 2
    if args.check_free and in_use(*parse(url)):
        print(
            f"make run: {url} is already in use (another server?). Nothing was written or "
            "seeded; stop that server, or serve another port: make run PORT=8018",
            file=sys.stderr,
        )
        return 2
    if url != current:
        path.write_text("\n".join(with_site_url(lines, url)) + "\n")
        print(f"make run: SITE_URL={url} written to {path}", file=sys.stderr)
    overridden = os.environ.get("SITE_URL")
    if overridden and overridden.rstrip("/") != url.rstrip("/"):
        print(
            f"make run: SITE_URL={overridden} is set in the environment and overrides {path} "
            f"({url}) for every process; unset it, or pass HOST= / PORT= matching it",
            file=sys.stderr,
        )
        return 2
    print(address)
    return 0


if __name__ == "__main__":
    sys.exit(main())
