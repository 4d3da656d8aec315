"""The storage bounds of a version number, the exact messages, and golden sort keys: the byte
layout is stored in every row, so a change that keeps the order but not the bytes would no
longer match the keys already stored."""

from __future__ import annotations

from typing import Any

import pytest
import semver

from connectors.versioning import MAX_COMPONENT, parse_version, version_key

BIG = 2**63 - 1
TOO_BIG = 2**63


def u64(n: int) -> str:
    return f"{n:016x}"


@pytest.mark.parametrize(
    ("version", "key_hex"),
    [
        ("0.0.0", u64(0) + u64(0) + u64(0) + "02"),
        ("1.2.3", u64(1) + u64(2) + u64(3) + "02"),
        ("256.65536.16777216", u64(256) + u64(65536) + u64(16777216) + "02"),
        (f"{BIG}.{BIG}.{BIG}", "7fffffffffffffff" * 3 + "02"),
        # pre-release: 0x01, then each identifier (numeric: 0x01, digit count, digits;
        # alphanumeric: 0x02, its bytes), each ended by 0x00
        ("1.0.0-alpha", u64(1) + u64(0) + u64(0) + "01" + "02" + b"alpha".hex() + "00"),
        ("1.0.0-0", u64(1) + u64(0) + u64(0) + "01" + "01" + "01" + "30" + "00"),
        (
            "1.0.0-rc.10",
            u64(1)
            + u64(0)
            + u64(0)
            + "01"
            + "02"
            + b"rc".hex()
            + "00"
            + "01"
            + "02"
            + "3130"
            + "00",
        ),
        (
            "2.0.0-x-y.7.Z9",
            u64(2)
            + u64(0)
            + u64(0)
            + "01"
            + ("02" + b"x-y".hex() + "00")
            + ("01" + "01" + "37" + "00")
            + ("02" + b"Z9".hex() + "00"),
        ),
        # the longest version a column holds (255 characters): 249 digits of pre-release
        ("0.0.1-" + "9" * 249, u64(0) + u64(0) + u64(1) + "01" + "01" + "f9" + "39" * 249 + "00"),
    ],
)
def test_golden_sort_keys(version: str, key_hex: str) -> None:
    assert version_key(version).hex() == key_hex
    assert version_key(parse_version(version)).hex() == key_hex  # a parsed value alike
    assert version_key(semver.Version.parse(version)).hex() == key_hex


def test_the_largest_version_is_accepted_and_keyed() -> None:
    assert MAX_COMPONENT == BIG
    parsed = parse_version(f"{BIG}.{BIG}.{BIG}")
    assert (parsed.major, parsed.minor, parsed.patch) == (BIG, BIG, BIG)
    assert version_key(f"{BIG}.0.0") > version_key(f"{BIG - 1}.{BIG}.{BIG}")


BELOW_2_63 = "Version numbers must be below 2^63."


@pytest.mark.parametrize(
    "version",
    [
        f"{TOO_BIG}.0.0",
        f"0.{TOO_BIG}.0",
        f"0.0.{TOO_BIG}",
        f"1.{TOO_BIG}.1",
        f"{BIG}.{BIG}.{TOO_BIG}",
        f"{2**64}.0.0-rc.1",
        f"0.{10**30}.0",
    ],
)
def test_components_of_2_63_or_more_are_refused(version: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_version(version)
    assert str(refused.value) == BELOW_2_63
    with pytest.raises(ValueError, match=r"^Version numbers must be below 2\^63\.$"):
        version_key(version)


@pytest.mark.parametrize(
    "prerelease",
    [
        "1" * 249,
        "rc." + "1" * 246,
        "1" * 246 + ".rc",
        "a" * 249,  # alphanumeric identifiers have no digit limit of their own
        "1" * 248 + "a",
        "rc." + "x" * 246,
        "1" * 124 + "." + "2" * 124,
    ],
)
def test_pre_release_identifiers_up_to_the_limit_are_accepted(prerelease: str) -> None:
    version = f"1.0.0-{prerelease}"
    assert str(parse_version(version)) == version
    assert version_key(version) < version_key("1.0.0")


@pytest.mark.parametrize(
    "prerelease",
    [
        "1" * 250,  # 256 characters in all
        "rc." + "1" * 256,
        "rc.beta." + "1" * 256,
        "a" * 300,
        "1" * 255 + "." + "2" * 256,
    ],
)
def test_versions_over_the_column_length_are_refused(prerelease: str) -> None:
    """A version number longer than ConnectorVersion.version's 255 characters is refused where
    it is parsed, with its length named, so that no INSERT ever fails on it."""
    version = f"1.0.0-{prerelease}"
    with pytest.raises(ValueError) as refused:
        parse_version(version)
    assert str(refused.value) == (
        f"A version number has at most 255 characters; this one has {len(version):,}."
    )


@pytest.mark.parametrize("value", ["1.2", "v1.2.0", "01.2.0", "", "latest", "1.x.x", "1.2.3-01"])
def test_not_a_semantic_version_message(value: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_version(value)
    assert str(refused.value) == f"“{value}” is not a semantic version (for example 1.2.0)."
    assert isinstance(refused.value.__cause__, ValueError)


@pytest.mark.parametrize("value", [None, 120])
def test_a_value_that_is_not_text_is_not_a_semantic_version(value: Any) -> None:
    with pytest.raises(ValueError) as refused:
        parse_version(value)
    assert str(refused.value) == f"“{value}” is not a semantic version (for example 1.2.0)."


@pytest.mark.parametrize("value", ["1.2.0+build", "1.2.0-rc.1+sha.5114f85", "1.0.0+0"])
def test_build_metadata_message(value: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_version(value)
    assert str(refused.value) == "Build metadata (+…) is not allowed in a version number."


def test_parse_keeps_the_parts() -> None:
    parsed = parse_version("10.20.30-rc.1.x")
    assert (parsed.major, parsed.minor, parsed.patch, parsed.prerelease, parsed.build) == (
        10,
        20,
        30,
        "rc.1.x",
        None,
    )
    assert str(parsed) == "10.20.30-rc.1.x"
