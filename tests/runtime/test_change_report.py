"""The change report on actions with steps: a changed mapping expression or step is a patch;
an output field removed or retyped is major, one added minor (the output shape)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from connectors.changes import compare_definitions

from .helpers import action, definition, step


def base() -> dict[str, Any]:
    fields = [
        {"targetFieldKey": "id", "expression": "$.id", "type": "string"},
        {"targetFieldKey": "name", "expression": "$.name", "type": "string"},
        {"targetFieldKey": "secret", "expression": "$.s", "hidden": True},
    ]
    return definition(
        "https://api.example.com",
        [
            action(
                "list_people",
                [
                    step("fetch", "request", url="/people", response={"dataKey": "people"}),
                    step(
                        "mapped",
                        "map_fields",
                        dataSource="$.steps.fetch.output.data",
                        fields=fields,
                    ),
                ],
                result={"data": "$.steps.mapped.output.data"},
            )
        ],
    )


def _fields(document: dict[str, Any]) -> list[dict[str, Any]]:
    return document["actions"][0]["steps"][1]["stepFunction"]["parameters"]["fields"]


def changed(edit: Any) -> dict[str, Any]:
    document = copy.deepcopy(base())
    edit(document)
    return document


@pytest.mark.parametrize(
    ("edit", "level", "text"),
    [
        (lambda d: _fields(d)[1].update(expression="$.full_name"), "patch", "steps changed"),
        (
            lambda d: d["actions"][0]["steps"][0]["stepFunction"]["parameters"].update(
                url="/v2/people"
            ),
            "patch",
            "steps changed",
        ),
        (
            lambda d: d["actions"][0].update(result={"data": "$.steps.fetch.output.data"}),
            "patch",
            "result changed",
        ),
        (lambda d: _fields(d).pop(1), "major", "output field name removed"),
        (lambda d: _fields(d)[1].update(type="number"), "major", "output field name type changed"),
        (
            lambda d: _fields(d).append({"targetFieldKey": "email", "expression": "$.e"}),
            "minor",
            "output field email added",
        ),
        (lambda d: _fields(d)[2].update(targetFieldKey="other"), "patch", "steps changed"),
    ],
    ids=[
        "expression",
        "url",
        "result",
        "field removed",
        "field retyped",
        "field added",
        "hidden renamed",
    ],
)
def test_step_and_output_shape_changes(edit: Any, level: str, text: str) -> None:
    report = compare_definitions(base(), changed(edit))
    assert report.level == level
    assert any(text in change.text for change in report.changes), [c.text for c in report.changes]
