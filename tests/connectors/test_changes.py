"""Change report (docs/concepts.md "The change report"): classification, bumps, messages, diff."""

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
    bump_is_sufficient,
    compare_definitions,
    declared_bump,
    structured_diff,
)

from .test_definition import base_definition, oauth2_definition

Definition = dict[str, Any]
Mutation = Callable[[Definition], object]


def _config(definition: Definition) -> list[dict[str, Any]]:
    fields: list[dict[str, Any]] = definition["authentication"]["configFields"]
    return fields


def _action(definition: Definition, action_id: str) -> dict[str, Any]:
    return next(a for a in definition["actions"] if a["actionId"] == action_id)


def _input(definition: Definition, action_id: str, name: str) -> dict[str, Any]:
    return next(i for i in _action(definition, action_id)["inputs"] if i["name"] == name)


NEW_ACTION = {
    "actionId": "list_deals",
    "categories": ["crm"],
    "actionType": "list",
    "label": "List deals",
    "description": "All deals.",
}

# (id, base, mutation, level, reauth, text fragment, place)
CASES: list[tuple[str, Callable[[], Definition], Mutation, str, bool, str, str]] = [
    # --- major
    (
        "auth type changed",
        base_definition,
        lambda d: d["authentication"].update(type="basic"),
        "major",
        True,
        "Authentication type changed from api_key to basic",
        "authentication.type",
    ),
    (
        "oauth scope added",
        oauth2_definition,
        lambda d: d["authentication"]["scopes"].append("deals.read"),
        "major",
        True,
        "Scope deals.read added",
        "authentication.scopes",
    ),
    (
        "all oauth scopes removed",
        oauth2_definition,
        lambda d: d["authentication"].pop("scopes"),
        "patch",  # the reverse (adding) is checked below
        False,
        "Scope contacts.read removed",
        "authentication.scopes",
    ),
    (
        "required config field added",
        base_definition,
        lambda d: _config(d).append(
            {"key": "region", "label": "Region", "type": "string", "required": True}
        ),
        "major",
        True,
        "Required config field region added",
        "authentication.configFields[region]",
    ),
    (
        "required setup field added",
        oauth2_definition,
        lambda d: d["authentication"]["setupFields"].append(
            {"key": "tenant", "label": "Tenant", "type": "string", "required": True}
        ),
        "major",
        True,
        "Required setup field tenant added",
        "authentication.setupFields[tenant]",
    ),
    (
        "config field removed",
        base_definition,
        lambda d: _config(d).pop(),
        "major",
        True,
        "Config field api_key removed",
        "authentication.configFields[api_key]",
    ),
    (
        "optional setup field removed",
        oauth2_definition,
        lambda d: d["authentication"]["setupFields"].pop(),
        "major",
        True,
        "Setup field clientSecret removed",
        "authentication.setupFields[clientSecret]",
    ),
    (
        "field moved from config to setup",
        base_definition,
        lambda d: d["authentication"]["setupFields"].append(_config(d).pop()),
        "major",
        True,
        "Config field api_key removed",
        "authentication.configFields[api_key]",
    ),
    (
        "field made required",
        base_definition,
        lambda d: _config(d)[1].update(required=True),
        "major",
        True,
        "Config field api_key made required",
        "authentication.configFields[api_key].required",
    ),
    (
        "field type changed",
        base_definition,
        lambda d: _config(d)[1].update(type="string"),
        "major",
        True,
        "Config field api_key type changed from password to string",
        "authentication.configFields[api_key].type",
    ),
    (
        "action removed",
        base_definition,
        lambda d: d["actions"].pop(),
        "major",
        False,
        "Action get_contact removed",
        "actions[get_contact]",
    ),
    (
        "action renamed is removed + added",
        base_definition,
        lambda d: _action(d, "get_contact").update(actionId="fetch_contact"),
        "major",
        False,
        "Action get_contact removed",
        "actions[get_contact]",
    ),
    (
        "actionType changed",
        base_definition,
        lambda d: _action(d, "get_contact").update(actionType="custom"),
        "major",
        False,
        "Action get_contact actionType changed from get to custom",
        "actions[get_contact].actionType",
    ),
    (
        "input removed",
        base_definition,
        lambda d: _action(d, "get_contact")["inputs"].pop(),
        "major",
        False,
        "Action get_contact: input id removed",
        "actions[get_contact].inputs[id]",
    ),
    (
        "input made required",
        base_definition,
        lambda d: _input(d, "list_contacts", "page_size").update(required=True),
        "major",
        False,
        "Action list_contacts: input page_size made required",
        "actions[list_contacts].inputs[page_size].required",
    ),
    (
        "input type changed",
        base_definition,
        lambda d: _input(d, "list_contacts", "page_size").update(type="string"),
        "major",
        False,
        "Action list_contacts: input page_size type changed from number to string",
        "actions[list_contacts].inputs[page_size].type",
    ),
    (
        "required input added",
        base_definition,
        lambda d: _action(d, "list_contacts")["inputs"].append(
            {"name": "owner", "type": "string", "in": "query", "required": True}
        ),
        "major",
        False,
        "Action list_contacts: required input owner added",
        "actions[list_contacts].inputs[owner]",
    ),
    # --- minor
    (
        "action added",
        base_definition,
        lambda d: d["actions"].append(copy.deepcopy(NEW_ACTION)),
        "minor",
        False,
        "Action list_deals added",
        "actions[list_deals]",
    ),
    (
        "optional input added",
        base_definition,
        lambda d: _action(d, "list_contacts")["inputs"].append(
            {"name": "q", "type": "string", "in": "query"}
        ),
        "minor",
        False,
        "Action list_contacts: optional input q added",
        "actions[list_contacts].inputs[q]",
    ),
    (
        "all inputs of an action removed",
        base_definition,
        lambda d: d["actions"][0].pop("inputs"),
        "major",  # removing it is major; the reverse (adding) is checked below
        False,
        "Action list_contacts: input page_size removed",
        "actions[list_contacts].inputs[page_size]",
    ),
    (
        "optional config field added",
        base_definition,
        lambda d: _config(d).append({"key": "region", "label": "Region", "type": "string"}),
        "minor",
        False,
        "Optional config field region added",
        "authentication.configFields[region]",
    ),
    (
        "explicitly optional setup field added",
        base_definition,
        lambda d: d["authentication"]["setupFields"].append(
            {"key": "app", "label": "App", "type": "string", "required": False}
        ),
        "minor",
        False,
        "Optional setup field app added",
        "authentication.setupFields[app]",
    ),
    # --- patch
    (
        "action label changed",
        base_definition,
        lambda d: _action(d, "get_contact").update(label="Fetch contact"),
        "patch",
        False,
        "Action get_contact: label changed",
        "actions[get_contact].label",
    ),
    (
        "action description changed",
        base_definition,
        lambda d: _action(d, "get_contact").update(description="A contact."),
        "patch",
        False,
        "Action get_contact: description changed",
        "actions[get_contact].description",
    ),
    (
        "steps changed",
        base_definition,
        lambda d: _action(d, "list_contacts")["steps"].append({"stepId": "more"}),
        "patch",
        False,
        "Action list_contacts: steps changed",
        "actions[list_contacts].steps",
    ),
    (
        "result mapping changed",
        base_definition,
        lambda d: _action(d, "list_contacts")["result"].update(data="$.other"),
        "patch",
        False,
        "Action list_contacts: result changed",
        "actions[list_contacts].result",
    ),
    (
        "result mapping added",
        base_definition,
        lambda d: _action(d, "get_contact").update(result={"data": "$"}),
        "patch",
        False,
        "Action get_contact: result added",
        "actions[get_contact].result",
    ),
    (
        "categories changed",
        base_definition,
        lambda d: _action(d, "get_contact")["categories"].append("internal"),
        "patch",
        False,
        "Action get_contact: categories changed",
        "actions[get_contact].categories",
    ),
    (
        "input description changed",
        base_definition,
        lambda d: _input(d, "list_contacts", "page_size").update(description="Size"),
        "patch",
        False,
        "Action list_contacts: input page_size description changed",
        "actions[list_contacts].inputs[page_size].description",
    ),
    (
        "input made optional",
        base_definition,
        lambda d: _input(d, "get_contact", "id").update(required=False),
        "patch",
        False,
        "Action get_contact: input id made optional",
        "actions[get_contact].inputs[id].required",
    ),
    (
        "base url changed",
        base_definition,
        lambda d: d.update(baseUrl="https://${credentials.subdomain}.acme.example/v2"),
        "patch",
        False,
        "Base URL changed",
        "baseUrl",
    ),
    (
        "title changed",
        base_definition,
        lambda d: d["info"].update(title="Acme"),
        "patch",
        False,
        "Title changed",
        "info.title",
    ),
    (
        "description removed",
        base_definition,
        lambda d: d["info"].pop("description"),
        "patch",
        False,
        "Description removed",
        "info.description",
    ),
    (
        "icon changed",
        base_definition,
        lambda d: d["info"]["assets"].update(icon="https://example.com/new.png"),
        "patch",
        False,
        "Icon changed",
        "info.assets.icon",
    ),
    (
        "oauth scope removed",
        oauth2_definition,
        lambda d: d["authentication"]["scopes"].remove("contacts.write"),
        "patch",
        False,
        "Scope contacts.write removed",
        "authentication.scopes",
    ),
    (
        "token url changed",
        oauth2_definition,
        lambda d: d["authentication"].update(tokenUrl="https://auth.acme.example/v2/token"),
        "patch",
        False,
        "Token URL changed",
        "authentication.tokenUrl",
    ),
    (
        "field made optional",
        base_definition,
        lambda d: _config(d)[0].update(required=False),
        "patch",
        False,
        "Config field subdomain made optional",
        "authentication.configFields[subdomain].required",
    ),
    (
        "field label changed",
        base_definition,
        lambda d: _config(d)[0].update(label="Company subdomain"),
        "patch",
        False,
        "Config field subdomain: label changed",
        "authentication.configFields[subdomain].label",
    ),
    (
        "field tooltip removed",
        base_definition,
        lambda d: _config(d)[0].pop("tooltip"),
        "patch",
        False,
        "Config field subdomain: tooltip removed",
        "authentication.configFields[subdomain].tooltip",
    ),
    (
        "health check changed",
        base_definition,
        lambda d: d["healthCheck"].update(path="/ping"),
        "patch",
        False,
        "Health check path changed",
        "healthCheck.path",
    ),
]


@pytest.mark.parametrize(
    ("make", "mutate", "level", "reauth", "fragment", "place"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_classification(
    make: Callable[[], Definition],
    mutate: Mutation,
    level: str,
    reauth: bool,
    fragment: str,
    place: str,
) -> None:
    previous = make()
    current = copy.deepcopy(previous)
    mutate(current)
    current["info"]["version"] = "9.9.9"  # the version number itself is never a change
    report = compare_definitions(previous, current, previous_version="1.2.0")
    assert report.level == level
    assert report.reauth_required is reauth
    assert report.previous_version == "1.2.0"
    matching = [change for change in report.changes if fragment in change.text]
    assert matching, report.changes
    assert matching[0].place == place
    assert matching[0].level == level
    assert all(change.place != "info.version" for change in report.changes)


@pytest.mark.parametrize(
    ("make", "remove", "level", "text"),
    [
        pytest.param(
            oauth2_definition,
            lambda d: d["authentication"].pop("scopes"),
            "major",
            "Scope contacts.read added",
            id="first scopes added",
        ),
        pytest.param(
            base_definition,
            lambda d: d["actions"][0].pop("inputs"),
            "minor",
            "Action list_contacts: optional input page_size added",
            id="first inputs added",
        ),
        pytest.param(
            base_definition,
            lambda d: d["authentication"].pop("configFields"),
            "major",
            "Required config field subdomain added",
            id="first fields added",
        ),
    ],
)
def test_adding_a_whole_list_counts_each_item(
    make: Callable[[], Definition], remove: Mutation, level: str, text: str
) -> None:
    current = make()
    previous = copy.deepcopy(current)
    remove(previous)
    report = compare_definitions(previous, current)
    assert report.level == level
    assert text in [change.text for change in report.changes]


def test_initial_report() -> None:
    report = compare_definitions(None, base_definition())
    assert report == ChangeReport("initial", (), False, None)


def test_no_change_is_a_patch_with_no_changes() -> None:
    previous = base_definition()
    current = copy.deepcopy(previous)
    current["info"]["version"] = "1.2.1"
    current["actions"].reverse()  # actions are matched by actionId, not position
    current["authentication"]["setupFields"] = []
    _config(current)[1]["required"] = False  # absent means false
    report = compare_definitions(previous, current, previous_version="1.2.0")
    assert report == ChangeReport("patch", (), False, "1.2.0")


def test_highest_level_wins_and_changes_are_ordered_by_level() -> None:
    previous = base_definition()
    current = copy.deepcopy(previous)
    current["info"]["title"] = "Acme"
    current["actions"].append(copy.deepcopy(NEW_ACTION))
    current["actions"].remove(_action(current, "get_contact"))
    report = compare_definitions(previous, current)
    assert report.level == "major"
    assert [change.level for change in report.changes] == ["major", "minor", "patch"]
    assert report.reauth_required is False


def test_reauth_only_for_major_changes_inside_authentication() -> None:
    previous = oauth2_definition()
    current = copy.deepcopy(previous)
    current["authentication"]["tokenUrl"] = "https://other.example/token"
    current["authentication"]["setupFields"].append(
        {"key": "audience", "label": "Audience", "type": "string"}
    )
    assert compare_definitions(previous, current).reauth_required is False


# --- Bumps ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "version", "expected"),
    [
        (None, "1.0.0", "initial"),
        ("1.2.3", "2.0.0", "major"),
        ("1.2.3", "0.1.0", "major"),
        ("1.2.3", "1.3.0", "minor"),
        ("1.2.3", "1.3.0-rc.1", "minor"),
        ("1.2.3", "1.2.4", "patch"),
        ("1.2.3", "1.2.3-rc.1", "patch"),
        ("1.2.3-rc.1", "1.2.3", "patch"),
        ("0.9.9", "1.0.0", "major"),
    ],
)
def test_declared_bump(previous: str | None, version: str, expected: str) -> None:
    assert declared_bump(previous, version) == expected


@pytest.mark.parametrize(
    ("declared", "required", "expected"),
    [
        ("initial", "major", True),
        ("initial", "patch", True),
        ("major", "initial", True),
        ("patch", "initial", True),
        ("major", "major", True),
        ("major", "minor", True),
        ("major", "patch", True),
        ("minor", "major", False),
        ("minor", "minor", True),
        ("minor", "patch", True),
        ("patch", "major", False),
        ("patch", "minor", False),
        ("patch", "patch", True),
    ],
)
def test_bump_is_sufficient(declared: Any, required: Any, expected: bool) -> None:
    assert bump_is_sufficient(declared, required) is expected


# --- Messages and storage ---------------------------------------------------------------------


def test_messages_for_the_first_version() -> None:
    report = compare_definitions(None, base_definition())
    assert report.as_messages() == [
        {"text": "First version of this connector", "severity": "info", "detail": []}
    ]


def test_messages_for_a_minor_change() -> None:
    previous = base_definition()
    current = copy.deepcopy(previous)
    current["actions"].append(copy.deepcopy(NEW_ACTION))
    current["info"]["title"] = "Acme"
    report = compare_definitions(previous, current, previous_version="1.1.0")
    assert report.as_messages() == [
        {
            "text": "Minor change against 1.1.0: 2 changes",
            "severity": "info",
            "detail": ["Action list_deals added", "Title changed"],
        }
    ]


def test_messages_for_a_major_change_that_needs_reauthentication() -> None:
    previous = oauth2_definition()
    current = copy.deepcopy(previous)
    current["authentication"]["scopes"].append("deals.read")
    current["actions"].pop()
    report = compare_definitions(previous, current, previous_version="1.4.2")
    messages = report.as_messages()
    assert messages == [
        {
            "text": "Major change against 1.4.2: 2 changes",
            "severity": "info",
            "detail": ["Action get_contact removed", "Scope deals.read added"],
        },
        {
            "text": "Action get_contact removed",
            "severity": "warning",
            "detail": ["actions[get_contact]"],
        },
        {
            "text": "Scope deals.read added",
            "severity": "warning",
            "detail": ["authentication.scopes"],
        },
        {
            "text": "Connections must re-authenticate",
            "severity": "warning",
            "detail": ["Scope deals.read added"],
        },
    ]
    for message in messages:
        assert set(message) == {"text", "severity", "detail"}
        assert message["severity"] in {"info", "warning", "error"}
        assert all(isinstance(line, str) for line in message["detail"])


def test_messages_when_nothing_changed() -> None:
    report = ChangeReport("patch", (), False, "2.0.0")
    assert report.as_messages() == [
        {"text": "No changes against 2.0.0", "severity": "info", "detail": []}
    ]


def test_one_change_is_singular() -> None:
    report = ChangeReport(
        "patch", (Change("patch", "baseUrl", "Base URL changed"),), False, "1.0.0"
    )
    assert report.as_messages()[0]["text"] == "Patch change against 1.0.0: 1 change"


def test_json_round_trip() -> None:
    previous = oauth2_definition()
    current = copy.deepcopy(previous)
    current["authentication"]["type"] = "custom"
    current["actions"].append(copy.deepcopy(NEW_ACTION))
    report = compare_definitions(previous, current, previous_version="3.0.0")
    stored = json.loads(json.dumps(report.to_json()))
    assert stored["level"] == "major"
    assert stored["reauth_required"] is True
    assert ChangeReport.from_json(stored) == report
    initial = compare_definitions(None, current)
    assert ChangeReport.from_json(json.loads(json.dumps(initial.to_json()))) == initial


@pytest.mark.parametrize(
    "data",
    [
        {"level": "huge", "changes": [], "reauth_required": False, "previous_version": None},
        {
            "level": "major",
            "changes": [{"level": "initial", "place": "x", "text": "y"}],
            "reauth_required": False,
            "previous_version": "1.0.0",
        },
    ],
)
def test_from_json_refuses_unknown_levels(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="level"):
        ChangeReport.from_json(data)


# --- Structured diff --------------------------------------------------------------------------


def test_structured_diff() -> None:
    old = oauth2_definition()
    new = copy.deepcopy(old)
    new["actions"].reverse()
    new["actions"].remove(_action(new, "get_contact"))
    new["actions"].append(copy.deepcopy(NEW_ACTION))
    _action(new, "list_contacts")["label"] = "Contacts"
    _input(new, "list_contacts", "page_size")["required"] = True
    new["authentication"]["scopes"] = ["deals.read", "contacts.read"]
    new["authentication"]["setupFields"][0]["label"] = "OAuth client ID"
    del new["info"]["description"]
    new["actions"][0]["steps"][0]["stepId"] = "get"

    assert structured_diff(old, new) == [
        DiffEntry("actions[get_contact]", "removed", _action(old, "get_contact"), None),
        DiffEntry("actions[list_contacts].inputs[page_size].required", "changed", False, True),
        DiffEntry("actions[list_contacts].label", "changed", "List contacts", "Contacts"),
        DiffEntry("actions[list_contacts].steps[0].stepId", "changed", "fetch", "get"),
        DiffEntry("actions[list_deals]", "added", None, NEW_ACTION),
        DiffEntry("authentication.scopes[contacts.write]", "removed", "contacts.write", None),
        DiffEntry("authentication.scopes[deals.read]", "added", None, "deals.read"),
        DiffEntry(
            "authentication.setupFields[clientId].label", "changed", "Client ID", "OAuth client ID"
        ),
        DiffEntry("info.description", "removed", "Contacts and deals.", None),
    ]


def test_structured_diff_of_equal_definitions_is_empty() -> None:
    assert structured_diff(base_definition(), base_definition()) == []


def test_structured_diff_compares_types_of_leaves() -> None:
    old = {"x": 1, "y": [1, 2], "z": {"a": True}}
    new = {"x": 1.0, "y": [1, 2, 3], "z": {"a": 1}}
    assert structured_diff(old, new) == [
        DiffEntry("x", "changed", 1, 1.0),
        DiffEntry("y[2]", "added", None, 3),
        DiffEntry("z.a", "changed", True, 1),
    ]


def test_structured_diff_orders_indexes_numerically() -> None:
    old = {"steps": list(range(12))}
    new = {"steps": [n + 1 for n in range(12)]}
    places = [entry.place for entry in structured_diff(old, new)]
    assert places == [f"steps[{n}]" for n in range(12)]
