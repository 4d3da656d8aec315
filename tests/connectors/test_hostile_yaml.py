"""Hostile input: nothing is executed, expanded, recursed into or read past the limits."""

from __future__ import annotations

import time
from pathlib import Path
from unittest import mock

import pytest
import yaml

from connectors.definition import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_PUSH_BYTES,
    DefinitionError,
    parse_definition,
)
from connectors.definition import files as definition_module

from .test_definition import DEAL_ACTIONS, base_definition, dump, with_refs


def refused(files: list[tuple[str, bytes]]) -> DefinitionError:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(files)
    return caught.value


def test_python_tags_are_refused_and_nothing_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f'!!python/object/apply:os.system ["touch {marker}"]\n'.encode()
    error = refused([("main.yaml", text)])
    assert error.status == 400
    [field_error] = error.errors
    assert field_error.field == "files[main.yaml]"
    assert "!!python/object/apply:os.system is not allowed" in field_error.message
    assert "line 1, column 1" in field_error.message
    assert not marker.exists()


@pytest.mark.parametrize(
    "value",
    [
        "!!python/name:os.system",
        "!!python/object/new:subprocess.Popen [[ls]]",
        "!!binary aGVsbG8=",
        "!!timestamp 2024-01-01",
        "!!set {a, b}",
        "!!omap [a: 1]",
        "!custom thing",
    ],
)
def test_tags_outside_the_core_schema_are_refused(value: str) -> None:
    text = dump(base_definition()) + f"extra: {value}\n".encode()
    error = refused([("main.yaml", text)])
    [field_error] = error.errors
    assert field_error.field == "files[main.yaml]"
    assert "is not allowed (only the YAML core schema)" in field_error.message


def test_core_tags_are_fine() -> None:
    definition = base_definition()
    text = dump(definition).replace(b"title: Acme CRM", b"title: !!str Acme CRM")
    assert parse_definition([("main.yaml", text)]).title == "Acme CRM"


BILLION_LAUGHS = b"""\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_alias_bomb_is_refused_fast() -> None:
    started = time.monotonic()
    error = refused([("main.yaml", BILLION_LAUGHS)])
    assert time.monotonic() - started < 1
    [field_error] = error.errors
    assert field_error.field == "files[main.yaml]"
    assert "anchors (&a) are not allowed" in field_error.message


def test_alias_without_anchor_is_refused() -> None:
    error = refused([("main.yaml", dump(base_definition()) + b"extra: *nothing\n")])
    assert "aliases (*nothing) are not allowed" in error.errors[0].message


def test_merge_keys_are_plain_keys() -> None:
    # `<<` does not merge: it is an unknown key like any other.
    text = dump(base_definition()) + b"<<: {info: 1}\n"
    error = refused([("main.yaml", text)])
    assert [e.field for e in error.errors] == ["<<"]


@pytest.mark.parametrize(
    "text",
    [b"[" * 100_000, b"{a: " * 100_000, b"".join(b"  " * n + b"- \n" for n in range(500))],
    ids=["flow sequences", "flow mappings", "block sequences"],
)
def test_deep_nesting_is_refused_without_recursion(text: bytes) -> None:
    error = refused([("main.yaml", text)])
    [field_error] = error.errors
    assert field_error.field == "files[main.yaml]"
    assert f"nesting is deeper than {MAX_DEPTH} levels" in field_error.message


def test_nesting_up_to_the_limit_is_fine() -> None:
    text = dump(base_definition()) + b"x: " + b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1)
    error = refused([("main.yaml", text)])
    assert [e.field for e in error.errors] == ["x"]  # parsed: only the unknown key is wrong


def test_ten_megabyte_file_is_refused_before_parsing() -> None:
    big = b"a: " + b"x" * (10 * 1024 * 1024) + b"\n"
    with mock.patch.object(definition_module, "load_yaml") as load_yaml:
        error = refused([("main.yaml", big)])
    load_yaml.assert_not_called()
    assert error.status == 413
    assert error.code == "too_large"
    assert [e.field for e in error.errors] == ["files[main.yaml]"]


def test_file_just_over_the_limit_is_refused() -> None:
    error = refused([("main.yaml", b"#" * (MAX_FILE_BYTES + 1))])
    assert error.status == 413


def test_push_over_the_limit_is_refused_naming_the_file() -> None:
    part = b"#" * MAX_FILE_BYTES
    files = [("main.yaml", part), ("a.yaml", part), ("b.yaml", b"# one byte too many\n")]
    assert sum(len(data) for _, data in files) > MAX_PUSH_BYTES
    with mock.patch.object(definition_module, "load_yaml") as load_yaml:
        error = refused(files)
    load_yaml.assert_not_called()
    assert error.status == 413
    assert [e.field for e in error.errors] == ["files[b.yaml]"]


def test_invalid_utf8_is_refused_naming_the_file() -> None:
    text = dump(base_definition()).replace(b"Acme CRM", b"Acme \xc3\x28CRM")
    error = refused([("main.yaml", text)])
    assert error.status == 400
    [field_error] = error.errors
    assert field_error.field == "files[main.yaml]"
    assert "not valid UTF-8" in field_error.message


def test_utf16_is_refused() -> None:
    error = refused([("main.yaml", dump(base_definition()).decode().encode("utf-16"))])
    assert error.errors[0].field == "files[main.yaml]"


def test_invalid_utf8_in_a_partial_names_the_partial() -> None:
    error = refused([("main.yaml", dump(with_refs("acme_crm.deals"))), ("deals.yaml", b"\xff")])
    assert [e.field for e in error.errors] == ["files[deals.yaml]"]


@pytest.mark.parametrize(
    "text",
    [b"a: 1\na: 2\n", b"info:\n  key: a\n  key: b\n", b"a: {x: 1, x: 1}\n"],
)
def test_duplicate_keys_are_refused(text: bytes) -> None:
    error = refused([("main.yaml", text)])
    [field_error] = error.errors
    assert field_error.field == "files[main.yaml]"
    assert "duplicate key" in field_error.message


def test_control_characters_are_refused() -> None:
    error = refused([("main.yaml", b"a: \x00\n")])
    assert error.errors[0].field == "files[main.yaml]"


def test_huge_integer_is_refused_cleanly() -> None:
    error = refused([("main.yaml", b"a: " + b"9" * 10_000 + b"\n")])
    assert "invalid integer" in error.errors[0].message


@pytest.mark.parametrize("value", [b".inf", b"-.Inf", b".nan"])
def test_non_json_floats_are_refused(value: bytes) -> None:
    error = refused([("main.yaml", b"a: " + value + b"\n")])
    assert "not allowed" in error.errors[0].message


def test_partial_referencing_itself_is_refused() -> None:
    error = refused(
        [
            ("main.yaml", dump(with_refs("acme_crm.deals"))),
            ("deals.yaml", dump({"$ref": "acme_crm.deals"})),
        ]
    )
    assert [e.field for e in error.errors] == ["actions[1]"]
    assert "cycle" in error.errors[0].message


def test_partial_bomb_is_refused_fast() -> None:
    # Each level references the next ten times: 10**8 values once fully spliced.
    files = [("main.yaml", dump(with_refs("acme_crm.p0")))]
    for level in range(8):
        files.append(
            (f"p{level}.yaml", dump([{"$ref": f"acme_crm.p{level + 1}"} for _ in range(10)]))
        )
    files.append(("p8.yaml", dump(DEAL_ACTIONS[:1])))
    started = time.monotonic()
    error = refused(files)
    assert time.monotonic() - started < 10
    [field_error] = error.errors
    assert field_error.field == "files[main.yaml]"
    assert "values once partials are spliced in" in field_error.message


def test_empty_partial_bomb_is_refused() -> None:
    files = [("main.yaml", dump(with_refs("acme_crm.p0")))]
    for level in range(12):
        files.append(
            (f"p{level}.yaml", dump([{"$ref": f"acme_crm.p{level + 1}"} for _ in range(10)]))
        )
    files.append(("p12.yaml", b"[]\n"))
    error = refused(files)
    assert "values once partials are spliced in" in error.errors[0].message


def test_long_chain_of_partials_is_refused() -> None:
    files = [("main.yaml", dump(with_refs("acme_crm.p0")))]
    for level in range(2_000):
        files.append((f"p{level}.yaml", dump([{"$ref": f"acme_crm.p{level + 1}"}])))
    files.append(("p2000.yaml", dump(DEAL_ACTIONS[:1])))
    error = refused(files)
    assert error.errors[0].field == "actions[1]"
    assert f"partials nest more than {MAX_DEPTH} deep" in error.errors[0].message


def test_safe_loader_is_left_alone() -> None:
    parse_definition([("main.yaml", dump(base_definition()))])
    assert yaml.safe_load("d: 2024-01-01")["d"].__class__.__name__ == "date"
