"""The change report compared whole: for every rule the complete list of changes (nothing
spurious beside the real change), later items compared after a removed one, duplicate or
missing ids, nested attributes, scalars replaced by mappings or lists, and reports stored and
loaded back at every level."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from connectors.changes import (
    Change,
    ChangeReport,
    DiffEntry,
    compare_definitions,
    structured_diff,
)

from .test_changes import CASES, NEW_ACTION
from .test_definition import base_definition, oauth2_definition

Definition = dict[str, Any]
Row = tuple[str, str, str]  # level, place, text

FULL: dict[str, list[Row]] = {
    "auth type changed": [
        ("major", "authentication.type", "Authentication type changed from api_key to basic"),
    ],
    "oauth scope added": [
        ("major", "authentication.scopes", "Scope deals.read added"),
    ],
    "all oauth scopes removed": [
        ("patch", "authentication.scopes", "Scope contacts.read removed"),
        ("patch", "authentication.scopes", "Scope contacts.write removed"),
    ],
    "required config field added": [
        ("major", "authentication.configFields[region]", "Required config field region added"),
    ],
    "required setup field added": [
        ("major", "authentication.setupFields[tenant]", "Required setup field tenant added"),
    ],
    "config field removed": [
        ("major", "authentication.configFields[api_key]", "Config field api_key removed"),
    ],
    "optional setup field removed": [
        ("major", "authentication.setupFields[clientSecret]", "Setup field clientSecret removed"),
    ],
    "field moved from config to setup": [
        ("major", "authentication.configFields[api_key]", "Config field api_key removed"),
        ("minor", "authentication.setupFields[api_key]", "Optional setup field api_key added"),
    ],
    "field made required": [
        (
            "major",
            "authentication.configFields[api_key].required",
            "Config field api_key made required",
        ),
    ],
    "field type changed": [
        (
            "major",
            "authentication.configFields[api_key].type",
            "Config field api_key type changed from password to string",
        ),
    ],
    "action removed": [
        ("major", "actions[get_contact]", "Action get_contact removed"),
    ],
    "action renamed is removed + added": [
        ("major", "actions[get_contact]", "Action get_contact removed"),
        ("minor", "actions[fetch_contact]", "Action fetch_contact added"),
    ],
    "actionType changed": [
        (
            "major",
            "actions[get_contact].actionType",
            "Action get_contact actionType changed from get to custom",
        ),
    ],
    "input removed": [
        ("major", "actions[get_contact].inputs[id]", "Action get_contact: input id removed"),
    ],
    "input made required": [
        (
            "major",
            "actions[list_contacts].inputs[page_size].required",
            "Action list_contacts: input page_size made required",
        ),
    ],
    "input type changed": [
        (
            "major",
            "actions[list_contacts].inputs[page_size].type",
            "Action list_contacts: input page_size type changed from number to string",
        ),
    ],
    "required input added": [
        (
            "major",
            "actions[list_contacts].inputs[owner]",
            "Action list_contacts: required input owner added",
        ),
    ],
    "action added": [
        ("minor", "actions[list_deals]", "Action list_deals added"),
    ],
    "optional input added": [
        (
            "minor",
            "actions[list_contacts].inputs[q]",
            "Action list_contacts: optional input q added",
        ),
    ],
    "all inputs of an action removed": [
        (
            "major",
            "actions[list_contacts].inputs[page_size]",
            "Action list_contacts: input page_size removed",
        ),
    ],
    "optional config field added": [
        ("minor", "authentication.configFields[region]", "Optional config field region added"),
    ],
    "explicitly optional setup field added": [
        ("minor", "authentication.setupFields[app]", "Optional setup field app added"),
    ],
    "action label changed": [
        ("patch", "actions[get_contact].label", "Action get_contact: label changed"),
    ],
    "action description changed": [
        ("patch", "actions[get_contact].description", "Action get_contact: description changed"),
    ],
    "steps changed": [
        ("patch", "actions[list_contacts].steps", "Action list_contacts: steps changed"),
    ],
    "result mapping changed": [
        ("patch", "actions[list_contacts].result", "Action list_contacts: result changed"),
    ],
    "result mapping added": [
        ("patch", "actions[get_contact].result", "Action get_contact: result added"),
    ],
    "categories changed": [
        ("patch", "actions[get_contact].categories", "Action get_contact: categories changed"),
    ],
    "input description changed": [
        (
            "patch",
            "actions[list_contacts].inputs[page_size].description",
            "Action list_contacts: input page_size description changed",
        ),
    ],
    "input made optional": [
        (
            "patch",
            "actions[get_contact].inputs[id].required",
            "Action get_contact: input id made optional",
        ),
    ],
    "base url changed": [
        ("patch", "baseUrl", "Base URL changed"),
    ],
    "title changed": [
        ("patch", "info.title", "Title changed"),
    ],
    "description removed": [
        ("patch", "info.description", "Description removed"),
    ],
    "icon changed": [
        ("patch", "info.assets.icon", "Icon changed"),
    ],
    "oauth scope removed": [
        ("patch", "authentication.scopes", "Scope contacts.write removed"),
    ],
    "token url changed": [
        ("patch", "authentication.tokenUrl", "Token URL changed"),
    ],
    "field made optional": [
        (
            "patch",
            "authentication.configFields[subdomain].required",
            "Config field subdomain made optional",
        ),
    ],
    "field label changed": [
        (
            "patch",
            "authentication.configFields[subdomain].label",
            "Config field subdomain: label changed",
        ),
    ],
    "field tooltip removed": [
        (
            "patch",
            "authentication.configFields[subdomain].tooltip",
            "Config field subdomain: tooltip removed",
        ),
    ],
    "health check changed": [
        ("patch", "healthCheck.path", "Health check path changed"),
    ],
}


def rows(report: ChangeReport) -> list[Row]:
    return [(c.level, c.place, c.text) for c in report.changes]


def compare(previous: Definition, current: Definition) -> list[Row]:
    return rows(compare_definitions(previous, current))


def test_every_rule_is_covered_here() -> None:
    assert sorted(FULL) == sorted(case[0] for case in CASES)


@pytest.mark.parametrize(
    ("name", "make", "mutate", "level", "reauth"),
    [pytest.param(case[0], *case[1:5], id=case[0]) for case in CASES],
)
def test_the_whole_list_of_changes_for_each_rule(
    name: str,
    make: Callable[[], Definition],
    mutate: Callable[[Definition], object],
    level: str,
    reauth: bool,
) -> None:
    previous = make()
    current = copy.deepcopy(previous)
    mutate(current)
    current["info"]["version"] = "9.9.9"
    report = compare_definitions(previous, current, previous_version="1.2.0")
    assert rows(report) == FULL[name]
    assert (report.level, report.reauth_required, report.previous_version) == (
        level,
        reauth,
        "1.2.0",
    )
    # the reverse change is classified by the same rules, and as fully
    back = compare_definitions(current, previous)
    assert all(change.place != "info.version" for change in back.changes)
    assert len(back.changes) == len({(c.place, c.text) for c in back.changes})


# --- After a removed item, the later ones are still compared --------------------------------


def test_fields_after_a_removed_field_are_compared() -> None:
    previous = base_definition()
    current = copy.deepcopy(previous)
    current["authentication"]["configFields"].pop(0)  # subdomain
    current["authentication"]["configFields"][0]["type"] = "string"  # api_key
    assert compare(previous, current) == [
        (
            "major",
            "authentication.configFields[api_key].type",
            "Config field api_key type changed from password to string",
        ),
        ("major", "authentication.configFields[subdomain]", "Config field subdomain removed"),
    ]


def test_setup_fields_after_a_removed_one_are_compared() -> None:
    previous = oauth2_definition()
    current = copy.deepcopy(previous)
    current["authentication"]["setupFields"].pop(0)  # clientId
    current["authentication"]["setupFields"][0]["required"] = True  # clientSecret
    assert compare(previous, current) == [
        ("major", "authentication.setupFields[clientId]", "Setup field clientId removed"),
        (
            "major",
            "authentication.setupFields[clientSecret].required",
            "Setup field clientSecret made required",
        ),
    ]


def test_actions_after_a_removed_action_are_compared() -> None:
    previous = base_definition()
    current = copy.deepcopy(previous)
    current["actions"].pop(0)  # list_contacts
    current["actions"][0]["actionType"] = "custom"  # get_contact
    current["actions"][0]["inputs"][0]["type"] = "number"
    current["actions"][0]["label"] = "Fetch"
    assert compare(previous, current) == [
        (
            "major",
            "actions[get_contact].actionType",
            "Action get_contact actionType changed from get to custom",
        ),
        (
            "major",
            "actions[get_contact].inputs[id].type",
            "Action get_contact: input id type changed from string to number",
        ),
        ("major", "actions[list_contacts]", "Action list_contacts removed"),
        ("patch", "actions[get_contact].label", "Action get_contact: label changed"),
    ]


def test_inputs_after_a_removed_input_are_compared() -> None:
    previous = base_definition()
    previous["actions"][0]["inputs"].insert(0, {"name": "gone", "type": "string", "in": "query"})
    current = copy.deepcopy(previous)
    current["actions"][0]["inputs"].pop(0)
    current["actions"][0]["inputs"][0]["required"] = True
    assert compare(previous, current) == [
        (
            "major",
            "actions[list_contacts].inputs[gone]",
            "Action list_contacts: input gone removed",
        ),
        (
            "major",
            "actions[list_contacts].inputs[page_size].required",
            "Action list_contacts: input page_size made required",
        ),
    ]


def test_one_field_changed_three_ways() -> None:
    previous = base_definition()
    current = copy.deepcopy(previous)
    current["authentication"]["configFields"][1].update(required=True, type="string", label="Key")
    assert compare(previous, current) == [
        (
            "major",
            "authentication.configFields[api_key].required",
            "Config field api_key made required",
        ),
        (
            "major",
            "authentication.configFields[api_key].type",
            "Config field api_key type changed from password to string",
        ),
        (
            "patch",
            "authentication.configFields[api_key].label",
            "Config field api_key: label changed",
        ),
    ]


# --- Duplicate or missing ids: compared by position -------------------------------------------


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda action: action.update(actionId="list_contacts"), id="duplicate"),
        pytest.param(lambda action: action.pop("actionId"), id="missing"),
        pytest.param(lambda action: action.update(actionId=7), id="not text"),
    ],
)
def test_actions_without_unique_ids(spoil: Callable[[dict[str, Any]], object]) -> None:
    previous = base_definition()
    current = copy.deepcopy(previous)
    spoil(current["actions"][1])
    current["actions"][1]["label"] = "Other"
    assert compare(previous, current) == [
        ("major", "actions[get_contact]", "Action get_contact removed"),
        ("patch", "actions[1]", "actions[1] changed"),
    ]
    places = [entry.place for entry in structured_diff(previous, current)]
    assert places[-1] == "actions[1].label"
    assert all(place.startswith("actions[1].") for place in places)


def test_inputs_without_unique_names_are_compared_by_position() -> None:
    previous = base_definition()
    previous["actions"][0]["inputs"].append({"name": "q", "type": "string", "description": "Q"})
    current = copy.deepcopy(previous)
    current["actions"][0]["inputs"][1]["name"] = "page_size"  # now twice
    current["actions"][0]["inputs"][1]["description"] = "Query"
    assert compare(previous, current) == [
        ("major", "actions[list_contacts].inputs[q]", "Action list_contacts: input q removed"),
        ("patch", "actions[list_contacts].inputs", "Action list_contacts: inputs changed"),
    ]
    assert [entry.place for entry in structured_diff(previous, current)] == [
        "actions[list_contacts].inputs[1].description",
        "actions[list_contacts].inputs[1].name",
    ]


def test_fields_without_unique_keys_are_compared_by_position() -> None:
    previous = base_definition()
    current = copy.deepcopy(previous)
    current["authentication"]["configFields"][1]["key"] = "subdomain"
    assert compare(previous, current) == [
        ("major", "authentication.configFields[api_key]", "Config field api_key removed"),
        ("patch", "authentication.configFields[1].key", "Config field 1: key changed"),
    ]
    assert structured_diff(previous, current) == [
        DiffEntry("authentication.configFields[1].key", "changed", "api_key", "subdomain")
    ]


def test_scopes_are_a_set_of_text() -> None:
    previous = oauth2_definition()
    current = copy.deepcopy(previous)
    current["authentication"]["scopes"].reverse()
    assert structured_diff(previous, current) == []
    assert compare(previous, current) == []
    current["authentication"]["scopes"].append("contacts.read")  # a duplicate: by position
    assert structured_diff(previous, current) == [
        DiffEntry("authentication.scopes[0]", "changed", "contacts.read", "contacts.write"),
        DiffEntry("authentication.scopes[1]", "changed", "contacts.write", "contacts.read"),
        DiffEntry("authentication.scopes[2]", "added", None, "contacts.read"),
    ]
    assert compare(previous, current) == []
    current["authentication"]["scopes"] = ["contacts.read", 5]  # not text: by position
    assert structured_diff(previous, current) == [
        DiffEntry("authentication.scopes[1]", "changed", "contacts.write", 5)
    ]
    assert compare(previous, current) == [
        ("patch", "authentication.scopes", "Scope contacts.write removed")
    ]


def test_keyed_lists_ignore_order_and_other_lists_do_not() -> None:
    previous = base_definition()
    previous["actions"][0]["categories"] = ["crm", "sales"]
    current = copy.deepcopy(previous)
    current["actions"].reverse()
    current["authentication"]["configFields"].reverse()
    current["actions"][1]["categories"].reverse()
    assert structured_diff(previous, current) == [
        DiffEntry("actions[list_contacts].categories[0]", "changed", "crm", "sales"),
        DiffEntry("actions[list_contacts].categories[1]", "changed", "sales", "crm"),
    ]
    assert compare(previous, current) == [
        ("patch", "actions[list_contacts].categories", "Action list_contacts: categories changed")
    ]


# --- Nested attributes are reported at the attribute -------------------------------------------

NESTED: list[tuple[str, Callable[[Definition], object], Callable[[Definition], object], Row]] = [
    (
        "input attribute",
        lambda d: d["actions"][0]["inputs"][0].update(enum=[10, 20]),
        lambda d: d["actions"][0]["inputs"][0]["enum"].__setitem__(1, 50),
        (
            "patch",
            "actions[list_contacts].inputs[page_size].enum",
            "Action list_contacts: input page_size enum changed",
        ),
    ),
    (
        "field attribute",
        lambda d: d["authentication"]["configFields"][0].update(options=["eu", "us"]),
        lambda d: d["authentication"]["configFields"][0]["options"].append("ap"),
        (
            "patch",
            "authentication.configFields[subdomain].options",
            "Config field subdomain: options changed",
        ),
    ),
    (
        "action attribute",
        lambda d: None,
        lambda d: d["actions"][0]["steps"][0]["stepFunction"].update(function="other"),
        ("patch", "actions[list_contacts].steps", "Action list_contacts: steps changed"),
    ),
    (
        "health check",
        lambda d: d["healthCheck"].update(headers={"Accept": "json"}),
        lambda d: d["healthCheck"]["headers"].update(Accept="xml"),
        ("patch", "healthCheck.headers", "healthCheck.headers changed"),
    ),
    (
        "authentication",
        lambda d: d["authentication"].update(tokenParams={"audience": "a"}),
        lambda d: d["authentication"]["tokenParams"].update(audience="b"),
        ("patch", "authentication.tokenParams", "authentication.tokenParams changed"),
    ),
    (
        "info",
        lambda d: d["info"]["assets"].update(screenshots=["a.png"]),
        lambda d: d["info"]["assets"]["screenshots"].append("b.png"),
        ("patch", "info.assets.screenshots", "info.assets.screenshots changed"),
    ),
    (
        "unnamed top-level key",
        lambda d: None,
        lambda d: d.update(docs="https://docs.acme.example"),
        ("patch", "docs", "docs added"),
    ),
    (
        "unnamed info key",
        lambda d: None,
        lambda d: d["info"].update(key="acme"),
        ("patch", "info.key", "info.key changed"),
    ),
]


@pytest.mark.parametrize(
    ("prepare", "change", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in NESTED],
)
def test_nested_attributes(
    prepare: Callable[[Definition], object], change: Callable[[Definition], object], expected: Row
) -> None:
    previous = base_definition()
    prepare(previous)
    current = copy.deepcopy(previous)
    change(current)
    assert compare(previous, current) == [expected]


def test_named_places() -> None:
    previous = oauth2_definition()
    previous["authentication"]["headerName"] = "X-API-Key"
    previous["healthCheck"] = {"path": "/me", "method": "GET", "expectStatus": 200}
    current = copy.deepcopy(previous)
    current["healthCheck"].update(method="HEAD", expectStatus=204)
    current["authentication"].update(headerName="X-Key", authorizationUrl="https://a.example/")
    current["info"]["description"] = "Deals."
    assert compare(previous, current) == [
        ("patch", "authentication.authorizationUrl", "Authorization URL changed"),
        ("patch", "authentication.headerName", "API key header name changed"),
        ("patch", "healthCheck.expectStatus", "Health check expected status changed"),
        ("patch", "healthCheck.method", "Health check method changed"),
        ("patch", "info.description", "Description changed"),
    ]


def test_whole_sections_added_or_removed() -> None:
    previous = base_definition()
    current = copy.deepcopy(previous)
    del current["healthCheck"]
    del current["info"]["assets"]
    assert compare(previous, current) == [
        ("patch", "healthCheck", "Health check removed"),
        ("patch", "info.assets", "Assets removed"),
    ]
    assert compare(current, previous) == [
        ("patch", "healthCheck", "Health check added"),
        ("patch", "info.assets", "Assets added"),
    ]


def test_the_first_actions_are_minor_and_nothing_else() -> None:
    current = base_definition()
    previous = copy.deepcopy(current)
    del previous["actions"]
    assert compare(previous, current) == [
        ("minor", "actions[get_contact]", "Action get_contact added"),
        ("minor", "actions[list_contacts]", "Action list_contacts added"),
    ]
    assert compare(current, previous) == [
        ("major", "actions[get_contact]", "Action get_contact removed"),
        ("major", "actions[list_contacts]", "Action list_contacts removed"),
    ]


def test_the_first_fields_and_scopes_are_counted_each() -> None:
    current = oauth2_definition()
    previous = copy.deepcopy(current)
    del previous["authentication"]["setupFields"]
    del previous["authentication"]["scopes"]
    assert compare(previous, current) == [
        ("major", "authentication.scopes", "Scope contacts.read added"),
        ("major", "authentication.scopes", "Scope contacts.write added"),
        ("major", "authentication.setupFields[clientId]", "Required setup field clientId added"),
        (
            "minor",
            "authentication.setupFields[clientSecret]",
            "Optional setup field clientSecret added",
        ),
    ]


# --- A scalar replaced by a mapping or a list, and back -----------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (1, {"b": 1}),
        ({"b": 1}, 1),
        ("x", ["x"]),
        (["x"], "x"),
        ({"0": "x"}, ["x"]),
        (["x"], {"0": "x"}),
        ([], {}),
        (None, {}),
        (0, False),
        ("1", 1),
    ],
)
def test_replaced_by_another_kind_of_value(old: Any, new: Any) -> None:
    assert structured_diff({"a": old}, {"a": new}) == [DiffEntry("a", "changed", old, new)]


def test_replaced_values_in_a_definition() -> None:
    previous = base_definition()
    current = copy.deepcopy(previous)
    current["healthCheck"] = "/me"
    current["actions"][0]["result"] = ["$.data"]
    current["baseUrl"] = {"url": previous["baseUrl"]}
    current["actions"][1]["inputs"][0]["required"] = "yes"  # not True: not required
    assert compare(previous, current) == [
        (
            "patch",
            "actions[get_contact].inputs[id].required",
            "Action get_contact: input id made optional",
        ),
        ("patch", "actions[list_contacts].result", "Action list_contacts: result changed"),
        ("patch", "baseUrl", "Base URL changed"),
        ("patch", "healthCheck", "Health check changed"),
    ]
    assert compare(current, previous) == [
        (
            "major",
            "actions[get_contact].inputs[id].required",
            "Action get_contact: input id made required",
        ),
        ("patch", "actions[list_contacts].result", "Action list_contacts: result changed"),
        ("patch", "baseUrl", "Base URL changed"),
        ("patch", "healthCheck", "Health check changed"),
    ]


def test_an_attribute_and_its_parts_changed_together_is_one_change() -> None:
    previous = base_definition()
    current = copy.deepcopy(previous)
    current["actions"][0]["steps"].append({"stepId": "more"})
    current["actions"][0]["steps"][0]["stepId"] = "first"
    current["actions"][0]["result"] = {"data": "$", "next": "$.next"}
    assert compare(previous, current) == [
        ("patch", "actions[list_contacts].result", "Action list_contacts: result changed"),
        ("patch", "actions[list_contacts].steps", "Action list_contacts: steps changed"),
    ]
    current = copy.deepcopy(previous)
    current["actions"][1]["result"] = {"data": "$"}
    current["actions"][0].pop("context")
    assert compare(previous, current) == [
        ("patch", "actions[get_contact].result", "Action get_contact: result added"),
        ("patch", "actions[list_contacts].context", "Action list_contacts: context removed"),
    ]


# --- Stored and loaded back, at every level -----------------------------------------------------


def _reports() -> dict[str, ChangeReport]:
    base = base_definition()
    major = copy.deepcopy(base)
    major["authentication"]["type"] = "basic"
    minor = copy.deepcopy(base)
    minor["actions"].append(copy.deepcopy(NEW_ACTION))
    patch = copy.deepcopy(base)
    patch["info"]["title"] = "Acme"
    patch["baseUrl"] = "https://other.example"
    return {
        "initial": compare_definitions(None, base),
        "major": compare_definitions(base, major, previous_version="1.2.0"),
        "minor": compare_definitions(base, minor, previous_version="1.2.0"),
        "patch": compare_definitions(base, patch, previous_version="1.2.0"),
        "no change": compare_definitions(base, copy.deepcopy(base), previous_version="1.2.0"),
    }


@pytest.mark.parametrize("which", ["initial", "major", "minor", "patch", "no change"])
def test_reports_round_trip_at_every_level(which: str) -> None:
    report = _reports()[which]
    stored = json.loads(json.dumps(report.to_json()))
    assert ChangeReport.from_json(stored) == report
    assert stored == {
        "level": report.level,
        "changes": [{"level": c.level, "place": c.place, "text": c.text} for c in report.changes],
        "reauth_required": report.reauth_required,
        "previous_version": report.previous_version,
    }


def test_the_reports_of_every_level() -> None:
    reports = _reports()
    assert {name: (r.level, r.reauth_required, rows(r)) for name, r in reports.items()} == {
        "initial": ("initial", False, []),
        "major": (
            "major",
            True,
            [("major", "authentication.type", "Authentication type changed from api_key to basic")],
        ),
        "minor": ("minor", False, [("minor", "actions[list_deals]", "Action list_deals added")]),
        "patch": (
            "patch",
            False,
            [("patch", "baseUrl", "Base URL changed"), ("patch", "info.title", "Title changed")],
        ),
        "no change": ("patch", False, []),
    }


def test_a_stored_report_with_only_a_level_loads_with_defaults() -> None:
    assert ChangeReport.from_json({"level": "initial"}) == ChangeReport("initial", (), False, None)
    assert ChangeReport.from_json({"level": "patch", "previous_version": 3}) == ChangeReport(
        "patch", (), False, "3"
    )
    loaded = ChangeReport.from_json(
        {
            "level": "minor",
            "changes": [{"level": "minor", "place": 5, "text": 6}],
            "reauth_required": 1,
        }
    )
    assert loaded == ChangeReport("minor", (Change("minor", "5", "6"),), True, None)


@pytest.mark.parametrize("level", ["major", "minor", "patch"])
def test_every_change_level_loads(level: str) -> None:
    data = {
        "level": level,
        "changes": [{"level": level, "place": "baseUrl", "text": "Base URL changed"}],
        "reauth_required": False,
        "previous_version": "1.0.0",
    }
    report = ChangeReport.from_json(data)
    assert report.changes == (Change(level, "baseUrl", "Base URL changed"),)  # type: ignore[arg-type]
    assert report.to_json() == data


@pytest.mark.parametrize(
    ("level", "message"),
    [("initial", "unknown change level 'initial'"), ("Patch", "unknown change level 'Patch'")],
)
def test_unknown_change_levels_are_named(level: str, message: str) -> None:
    data = {"level": "patch", "changes": [{"level": level, "place": "x", "text": "y"}]}
    with pytest.raises(ValueError) as refused:
        ChangeReport.from_json(data)
    assert str(refused.value) == message
    with pytest.raises(ValueError) as refused:
        ChangeReport.from_json({"level": "huge"})
    assert str(refused.value) == "unknown change report level 'huge'"


# --- Messages --------------------------------------------------------------------------------------


def test_messages_of_a_patch_report_without_a_previous_version() -> None:
    report = ChangeReport(
        "patch",
        (
            Change("patch", "baseUrl", "Base URL changed"),
            Change("patch", "info.title", "Title changed"),
        ),
        False,
        None,
    )
    assert report.as_messages() == [
        {
            "text": "Patch change against the previous version: 2 changes",
            "severity": "info",
            "detail": ["Base URL changed", "Title changed"],
        }
    ]


def test_messages_of_a_stored_report_with_a_change_of_the_whole_authentication() -> None:
    report = ChangeReport.from_json(
        {
            "level": "major",
            "changes": [
                {"level": "major", "place": "authentication", "text": "Authentication replaced"},
                {"level": "major", "place": "authenticationX", "text": "Not authentication"},
                {"level": "patch", "place": "authentication.tokenUrl", "text": "Token URL changed"},
            ],
            "reauth_required": True,
            "previous_version": "1.0.0",
        }
    )
    assert report.as_messages() == [
        {
            "text": "Major change against 1.0.0: 3 changes",
            "severity": "info",
            "detail": ["Authentication replaced", "Not authentication", "Token URL changed"],
        },
        {"text": "Authentication replaced", "severity": "warning", "detail": ["authentication"]},
        {"text": "Not authentication", "severity": "warning", "detail": ["authenticationX"]},
        {
            "text": "Connections must re-authenticate",
            "severity": "warning",
            "detail": ["Authentication replaced"],
        },
    ]


# --- Odd shapes: keys added, items that are not mappings, no authentication ------------------


def test_keys_added_and_removed_carry_their_values() -> None:
    assert structured_diff({"a": 1, "c": [3]}, {"a": 1, "b": {"x": 2}}) == [
        DiffEntry("b", "added", None, {"x": 2}),
        DiffEntry("c", "removed", [3], None),
    ]


@pytest.mark.parametrize(
    ("where", "place"),
    [
        (lambda d: d["actions"], "actions[2]"),
        (lambda d: d["authentication"]["configFields"], "authentication.configFields[2]"),
        (lambda d: d["actions"][0]["inputs"], "actions[list_contacts].inputs[1]"),
    ],
    ids=["action", "field", "input"],
)
def test_an_item_that_is_not_a_mapping_is_compared_by_position(
    where: Callable[[Definition], list[Any]], place: str
) -> None:
    previous = base_definition()
    current = copy.deepcopy(previous)
    where(current).append("oops")
    assert structured_diff(previous, current) == [DiffEntry(place, "added", None, "oops")]
    assert compare(previous, current) == []  # an item without an identity names nothing


@pytest.mark.parametrize("replacement", [None, "none"], ids=["removed", "not a mapping"])
def test_no_authentication_section(replacement: str | None) -> None:
    previous = base_definition()
    current = copy.deepcopy(previous)
    if replacement is None:
        del current["authentication"]
    else:
        current["authentication"] = replacement
    kind = "removed" if replacement is None else "changed"
    assert compare(previous, current) == [
        ("major", "authentication.configFields[api_key]", "Config field api_key removed"),
        ("major", "authentication.configFields[subdomain]", "Config field subdomain removed"),
        ("major", "authentication.type", "Authentication type changed from api_key to None"),
        ("patch", "authentication", f"authentication {kind}"),
    ]


def test_the_initial_report_keeps_the_previous_version_given() -> None:
    assert compare_definitions(None, base_definition(), previous_version="0.9.0") == ChangeReport(
        "initial", (), False, "0.9.0"
    )
