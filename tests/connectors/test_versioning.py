"""The binary sort key orders versions exactly as semver precedence does."""

from __future__ import annotations

import pytest
import semver
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.versioning import parse_version, version_key

numbers = st.integers(min_value=0, max_value=10**12)
identifier = st.one_of(
    st.integers(min_value=0, max_value=10**30).map(str),
    st.from_regex(r"[0-9A-Za-z-]*[A-Za-z-][0-9A-Za-z-]*", fullmatch=True).filter(
        lambda s: 0 < len(s) <= 12
    ),
)
versions = st.builds(
    lambda M, m, p, pre: f"{M}.{m}.{p}" + (f"-{'.'.join(pre)}" if pre else ""),
    numbers,
    numbers,
    numbers,
    st.lists(identifier, max_size=4),
)


def sign(n: int) -> int:
    return (n > 0) - (n < 0)


@settings(max_examples=1000, deadline=None)
@given(versions, versions)
def test_key_order_is_semver_precedence(a: str, b: str) -> None:
    expected = semver.Version.parse(a).compare(b)
    ka, kb = version_key(a), version_key(b)
    assert sign((ka > kb) - (ka < kb)) == expected, (a, b)


def test_known_order_from_the_semver_spec() -> None:
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.2.0",
        "1.10.0",
        "2.0.0",
        "10.0.0",
    ]
    assert sorted(ordered, key=version_key) == ordered


@pytest.mark.parametrize("bad", ["1.2", "v1.2.0", "01.2.0", "1.2.0+build", "", "latest", "1.x.x"])
def test_invalid_versions_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_version(bad)
