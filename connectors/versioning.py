"""Semver values and a byte key whose order is semver precedence (pre-releases included).

The key is stored in a binary column, which both PostgreSQL (bytea) and SQLite (BLOB) compare
byte by byte, so ``ORDER BY version_key`` is semver order on either database.

Layout: major, minor, patch as 8-byte big-endian integers, then ``0x02`` for a release or
``0x01`` followed by the pre-release identifiers for a pre-release (a release has higher
precedence). Each identifier is encoded then terminated by ``0x00`` so that a shorter list of
otherwise equal identifiers sorts first: a numeric identifier is ``0x01``, its digit count (one
byte) and its digits (numbers compare by length, then digit by digit, and have no leading
zeros); an alphanumeric identifier is ``0x02`` and its ASCII bytes (numeric < alphanumeric).
"""

from __future__ import annotations

import semver

MAX_COMPONENT = 2**63 - 1
# The length of ConnectorVersion.version's column: a longer number is refused where it enters
# (a push, an upload, the command line), with the field named, never at the INSERT.
MAX_VERSION_LENGTH = 255


def parse_version(value: str) -> semver.Version:
    """A semver 2.0.0 version without build metadata; ValueError with a user-facing message."""
    if isinstance(value, str) and len(value) > MAX_VERSION_LENGTH:
        raise ValueError(
            f"A version number has at most {MAX_VERSION_LENGTH} characters; this one has "
            f"{len(value):,}."
        )
    try:
        version = semver.Version.parse(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"“{value}” is not a semantic version (for example 1.2.0).") from exc
    if version.build:
        raise ValueError("Build metadata (+…) is not allowed in a version number.")
    if max(version.major, version.minor, version.patch) > MAX_COMPONENT:
        raise ValueError("Version numbers must be below 2^63.")
    for identifier in (version.prerelease or "").split("."):
        if identifier.isdigit() and len(identifier) > 255:
            raise ValueError("A numeric pre-release identifier may have at most 255 digits.")
    return version


def version_key(value: str | semver.Version) -> bytes:
    version = parse_version(value) if isinstance(value, str) else value
    key = b"".join(n.to_bytes(8, "big") for n in (version.major, version.minor, version.patch))
    if not version.prerelease:
        return key + b"\x02"
    key += b"\x01"
    for identifier in version.prerelease.split("."):
        if identifier.isdigit():
            key += b"\x01" + len(identifier).to_bytes(1, "big") + identifier.encode()
        else:
            key += b"\x02" + identifier.encode("ascii")
        key += b"\x00"
    return key
