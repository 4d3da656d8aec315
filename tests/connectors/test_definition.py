"""Parsing and validation of connector definitions (docs/connector-definition.md)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from connectors.definition import (
    MAX_DEPTH,
    RESERVED_VERSION_NAMES,
    DefinitionError,
    FieldError,
    ParsedDefinition,
    parse_definition,
)

Definition = dict[str, Any]


def base_definition() -> Definition:
    """A valid api_key definition with a subdomain in its baseUrl and two actions."""
    return {
        "info": {
            "title": "Acme CRM",
            "key": "acme_crm",
            "version": "1.2.0",
            "description": "Contacts and deals.",
            "assets": {"icon": "https://example.com/acme.png"},
        },
        "baseUrl": "https://${credentials.subdomain}.acme.example/api",
        "authentication": {
            "type": "api_key",
            "setupFields": [],
            "configFields": [
                {
                    "key": "subdomain",
                    "label": "Subdomain",
                    "type": "string",
                    "required": True,
                    "secret": False,
                    "placeholder": "mycompany",
                    "tooltip": "The part before .acme.example",
                },
                {"key": "api_key", "label": "API key", "type": "password", "secret": True},
            ],
            "headerName": "X-API-Key",
        },
        "healthCheck": {"path": "/me", "method": "GET", "expectStatus": 200},
        "actions": [
            {
                "actionId": "list_contacts",
                "categories": ["crm"],
                "actionType": "list",
                "label": "List contacts",
                "description": "All contacts.",
                "context": "https://docs.acme.example/contacts",
                "entrypointUrl": "/contacts",
                "entrypointHttpMethod": "get",
                "inputs": [
                    {
                        "name": "page_size",
                        "type": "number",
                        "in": "query",
                        "required": False,
                        "description": "Page size",
                    }
                ],
                "steps": [
                    {
                        "stepId": "fetch",
                        "stepFunction": {
                            "functionName": "request",
                            "parameters": {"url": "/contacts", "method": "get"},
                        },
                    }
                ],
                "result": {"data": "$.steps.fetch.output.data"},
            },
            {
                "actionId": "get_contact",
                "categories": ["crm"],
                "actionType": "get",
                "label": "Get contact",
                "description": "One contact.",
                "inputs": [{"name": "id", "type": "string", "in": "path", "required": True}],
            },
        ],
    }


def oauth2_definition() -> Definition:
    definition = base_definition()
    definition["baseUrl"] = "https://api.acme.example"
    definition["authentication"] = {
        "type": "oauth2",
        "setupFields": [
            {"key": "clientId", "label": "Client ID", "type": "string", "required": True},
            {"key": "clientSecret", "label": "Secret", "type": "password", "secret": True},
        ],
        "authorizationUrl": "https://auth.acme.example/authorize",
        "tokenUrl": "https://auth.acme.example/token",
        "scopes": ["contacts.read", "contacts.write"],
    }
    return definition


def basic_definition() -> Definition:
    definition = base_definition()
    definition["baseUrl"] = "http://acme.example:8080/api"
    definition["authentication"] = {
        "type": "basic",
        "configFields": [
            {"key": "username", "label": "User", "type": "string", "required": True},
            {"key": "password", "label": "Password", "type": "password", "secret": True},
        ],
    }
    del definition["healthCheck"]
    return definition


def dump(data: Any) -> bytes:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode()


def parse(definition: Definition, *partials: tuple[str, Any]) -> ParsedDefinition:
    files = [("acme_crm.yaml", dump(definition))]
    files += [(name, text if isinstance(text, bytes) else dump(text)) for name, text in partials]
    return parse_definition(files)


def errors_of(definition: Definition, *partials: tuple[str, Any]) -> list[FieldError]:
    with pytest.raises(DefinitionError) as caught:
        parse(definition, *partials)
    assert caught.value.status == 400
    assert caught.value.code == "invalid_definition"
    return caught.value.errors


def places(errors: list[FieldError]) -> list[str]:
    return [error.field for error in errors]


# --- Valid definitions ------------------------------------------------------------------------


@pytest.mark.parametrize("make", [base_definition, oauth2_definition, basic_definition])
def test_valid_definitions_parse(make: Callable[[], Definition]) -> None:
    definition = make()
    parsed = parse(definition)
    assert parsed.key == "acme_crm"
    assert parsed.version == "1.2.0"
    assert parsed.title == "Acme CRM"
    assert parsed.description == "Contacts and deals."
    assert parsed.icon == "https://example.com/acme.png"
    assert parsed.definition == definition
    assert json.loads(json.dumps(parsed.definition)) == definition
    assert list(parsed.source_files) == ["acme_crm.yaml"]


def test_optional_info_fields_default_to_empty_strings() -> None:
    definition = base_definition()
    del definition["info"]["description"]
    del definition["info"]["assets"]
    parsed = parse(definition)
    assert parsed.description == ""
    assert parsed.icon == ""


def test_source_text_is_kept_and_bom_stripped() -> None:
    text = dump(base_definition())
    parsed = parse_definition([("main.yaml", b"\xef\xbb\xbf" + text)])
    assert parsed.source_files == {"main.yaml": text.decode()}


def test_written_yaml_with_comments_and_flow_style_parses() -> None:
    text = b"""# Acme
info: {title: Acme, key: acme, version: 2.0.0-rc.1}
baseUrl: https://${credentials.region}.acme.example   # region
authentication:
  type: custom
  setupFields:
    - {key: region, label: Region, type: select, options: [eu, us]}
actions: []
"""
    parsed = parse_definition([("acme.yaml", text)])
    assert parsed.version == "2.0.0-rc.1"
    assert parsed.definition["authentication"]["setupFields"][0]["options"] == ["eu", "us"]


def test_timestamps_stay_strings_so_the_definition_is_json() -> None:
    definition = base_definition()
    definition["actions"][0]["result"] = {"value": "2024-01-31"}
    text = dump(definition).replace(b"'2024-01-31'", b"2024-01-31")
    assert b"value: 2024-01-31\n" in text
    parsed = parse_definition([("acme.yaml", text)])
    assert parsed.definition["actions"][0]["result"]["value"] == "2024-01-31"
    json.dumps(parsed.definition)


@pytest.mark.parametrize("version", ["1.3.0-rc.1", "0.0.1", "10.20.30", "1.0.0-alpha.beta.1"])
def test_versions_accepted(version: str) -> None:
    definition = base_definition()
    definition["info"]["version"] = version
    assert parse(definition).version == version


def test_steps_are_checked_and_result_keys_other_than_data_and_next_are_kept() -> None:
    definition = base_definition()
    definition["actions"][0]["result"] = {"unknownKey": True}
    parse(definition)
    definition["actions"][0]["steps"] = [{"anything": {"goes": [1, 2, {"here": None}]}}]
    fields = {error.field for error in errors_of(definition)}
    assert {"actions[0].steps[0].anything", "actions[0].steps[0].stepId"} <= fields


def test_same_input_name_in_two_actions_is_fine() -> None:
    definition = base_definition()
    definition["actions"][1]["inputs"][0]["name"] = "page_size"
    parse(definition)


def test_setup_field_may_be_interpolated_in_base_url() -> None:
    definition = oauth2_definition()
    definition["baseUrl"] = "https://${credentials.clientId}.acme.example"
    parse(definition)


# --- Invalid definitions, one rule at a time --------------------------------------------------


def _set(path: str, value: Any) -> Callable[[Definition], None]:
    def mutate(definition: Definition) -> None:
        *parents, last = path.split("/")
        target: Any = definition
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return mutate


def _delete(path: str) -> Callable[[Definition], None]:
    def mutate(definition: Definition) -> None:
        *parents, last = path.split("/")
        target: Any = definition
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        del target[int(last) if isinstance(target, list) else last]

    return mutate


def _append(path: str, value: Any) -> Callable[[Definition], None]:
    def mutate(definition: Definition) -> None:
        target: Any = definition
        for part in path.split("/"):
            target = target[int(part)] if isinstance(target, list) else target[part]
        target.append(value)

    return mutate


def _both(*mutations: Callable[[Definition], None]) -> Callable[[Definition], None]:
    def mutate(definition: Definition) -> None:
        for mutation in mutations:
            mutation(definition)

    return mutate


INVALID_CASES: list[tuple[str, Callable[[Definition], None], str, str]] = [
    # info
    ("key missing", _delete("info/key"), "info.key", "is required"),
    ("key uppercase", _set("info/key", "Acme"), "info.key", "lowercase"),
    ("key one char", _set("info/key", "a"), "info.key", "2 to 64"),
    ("key too long", _set("info/key", "a" * 65), "info.key", "2 to 64"),
    ("key starts with digit", _set("info/key", "1acme"), "info.key", "starting with a letter"),
    ("title missing", _delete("info/title"), "info.title", "is required"),
    ("title empty", _set("info/title", ""), "info.title", "must not be empty"),
    ("title too long", _set("info/title", "x" * 201), "info.title", "at most 200"),
    ("title not a string", _set("info/title", 12), "info.title", "must be a string"),
    ("version missing", _delete("info/version"), "info.version", "is required"),
    ("version not semver", _set("info/version", "1.2"), "info.version", "semantic version"),
    ("version with v", _set("info/version", "v1.2.0"), "info.version", "semantic version"),
    ("version leading zero", _set("info/version", "01.2.0"), "info.version", "semantic"),
    ("version build metadata", _set("info/version", "1.2.0+build.7"), "info.version", "build"),
    # Past the storage limits: a clear 400, not a 500 when the sort key is computed.
    ("version too big", _set("info/version", "99999999999999999999.0.0"), "info.version", "2^63"),
    (
        "version pre-release too long",
        _set("info/version", "1.0.0-" + "9" * 256),
        "info.version",
        "255",
    ),
    ("version a number", _set("info/version", 1.2), "info.version", "must be a string"),
    ("unknown info key", _set("info/summary", "x"), "info.summary", "unknown key"),
    ("icon not a URL", _set("info/assets/icon", "acme.png"), "info.assets.icon", "http(s) URL"),
    ("icon ftp", _set("info/assets/icon", "ftp://x.example/a.png"), "info.assets.icon", "http"),
    ("description not str", _set("info/description", ["x"]), "info.description", "a string"),
    # top level
    ("unknown top-level key", _set("action", []), "action", "did you mean 'actions'"),
    ("info missing", _delete("info"), "info", "is required"),
    ("baseUrl missing", _delete("baseUrl"), "baseUrl", "is required"),
    ("authentication missing", _delete("authentication"), "authentication", "is required"),
    ("actions missing", _delete("actions"), "actions", "is required"),
    ("actions not a list", _set("actions", {"a": 1}), "actions", "must be a list"),
    # baseUrl
    ("baseUrl not http", _set("baseUrl", "ftp://acme.example"), "baseUrl", "http(s) URL"),
    ("baseUrl relative", _set("baseUrl", "/api"), "baseUrl", "http(s) URL"),
    (
        "baseUrl unknown credential",
        _set("baseUrl", "https://${credentials.tenant}.acme.example"),
        "baseUrl",
        "${credentials.tenant} names no setupFields or configFields key",
    ),
    (
        "baseUrl other interpolation",
        _set("baseUrl", "https://${env.host}/api"),
        "baseUrl",
        "only ${credentials.<key>}",
    ),
    # authentication
    ("auth type unknown", _set("authentication/type", "saml"), "authentication.type", "oauth2"),
    ("auth type missing", _delete("authentication/type"), "authentication.type", "is required"),
    (
        "unknown auth key",
        _set("authentication/scope", ["a"]),
        "authentication.scope",
        "did you mean 'scopes'",
    ),
    (
        "field key invalid",
        _set("authentication/configFields/0/key", "1sub"),
        "authentication.configFields[0].key",
        "starting with a letter",
    ),
    (
        "field key missing",
        _delete("authentication/configFields/1/key"),
        "authentication.configFields[1].key",
        "is required",
    ),
    (
        "field label missing",
        _delete("authentication/configFields/0/label"),
        "authentication.configFields[0].label",
        "is required",
    ),
    (
        "field type unknown",
        _set("authentication/configFields/0/type", "text"),
        "authentication.configFields[0].type",
        "string, number, boolean, password, url, email, select",
    ),
    (
        "field required not a bool",
        _set("authentication/configFields/0/required", "yes please"),
        "authentication.configFields[0].required",
        "true or false",
    ),
    (
        "field unknown key",
        _set("authentication/configFields/0/lable", "x"),
        "authentication.configFields[0].lable",
        "did you mean 'label'",
    ),
    (
        "field options not strings",
        _set("authentication/configFields/0/options", [{"a": 1}]),
        "authentication.configFields[0].options[0]",
        "a string",
    ),
    (
        "field key duplicate within a list",
        _set("authentication/configFields/1/key", "subdomain"),
        "authentication.configFields[1].key",
        "duplicate field key 'subdomain'",
    ),
    (
        "field key duplicate across setup and config",
        _set(
            "authentication/setupFields",
            [{"key": "api_key", "label": "Key", "type": "string"}],
        ),
        "authentication.configFields[1].key",
        "also at authentication.setupFields[0].key",
    ),
    (
        "oauth2 without authorizationUrl",
        _set("authentication/type", "oauth2"),
        "authentication.authorizationUrl",
        "required when type is oauth2",
    ),
    (
        "oauth2 without tokenUrl",
        _set("authentication/type", "oauth2"),
        "authentication.tokenUrl",
        "required when type is oauth2",
    ),
    (
        "authorizationUrl not http",
        _set("authentication/authorizationUrl", "javascript:alert(1)"),
        "authentication.authorizationUrl",
        "http(s) URL",
    ),
    (
        "tokenUrl without host",
        _set("authentication/tokenUrl", "https:///token"),
        "authentication.tokenUrl",
        "http(s) URL",
    ),
    (
        "scopes duplicate",
        _set("authentication/scopes", ["a", "b", "a"]),
        "authentication.scopes[2]",
        "duplicate scope 'a'",
    ),
    (
        "scope empty",
        _set("authentication/scopes", [""]),
        "authentication.scopes[0]",
        "must not be empty",
    ),
    (
        "setupFields not a list",
        _set("authentication/setupFields", "x"),
        "authentication.setupFields",
        "must be a list",
    ),
    # healthCheck
    ("healthCheck path relative", _set("healthCheck/path", "me"), "healthCheck.path", "/"),
    ("healthCheck path missing", _delete("healthCheck/path"), "healthCheck.path", "required"),
    (
        "healthCheck method",
        _set("healthCheck/method", "PUT"),
        "healthCheck.method",
        "GET, HEAD, POST",
    ),
    (
        "healthCheck status too high",
        _set("healthCheck/expectStatus", 600),
        "healthCheck.expectStatus",
        "at most 599",
    ),
    (
        "healthCheck status a bool",
        _set("healthCheck/expectStatus", True),
        "healthCheck.expectStatus",
        "an integer",
    ),
    # actions
    (
        "actionId duplicate",
        _set("actions/1/actionId", "list_contacts"),
        "actions[1].actionId",
        "duplicate actionId 'list_contacts' (also at actions[0].actionId)",
    ),
    (
        "actionId invalid",
        _set("actions/0/actionId", "ListContacts"),
        "actions[0].actionId",
        "lowercase",
    ),
    ("actionId missing", _delete("actions/0/actionId"), "actions[0].actionId", "required"),
    (
        "categories empty",
        _set("actions/0/categories", []),
        "actions[0].categories",
        "must not be empty",
    ),
    (
        "category unknown",
        _set("actions/1/categories", ["crm", "sales"]),
        "actions[1].categories[1]",
        "hris, ats, crm",
    ),
    (
        "actionType unknown",
        _set("actions/0/actionType", "search"),
        "actions[0].actionType",
        "refresh_token",
    ),
    ("label missing", _delete("actions/1/label"), "actions[1].label", "is required"),
    (
        "description missing",
        _delete("actions/1/description"),
        "actions[1].description",
        "is required",
    ),
    (
        "context not a URL",
        _set("actions/0/context", "see the docs"),
        "actions[0].context",
        "http(s) URL",
    ),
    (
        "http method upper case",
        _set("actions/0/entrypointHttpMethod", "GET"),
        "actions[0].entrypointHttpMethod",
        "get, post, put, patch, delete",
    ),
    ("unknown action key", _set("actions/1/schema", "x"), "actions[1].schema", "unknown key"),
    ("action not a mapping", _set("actions/1", "get_contact"), "actions[1]", "a mapping"),
    ("steps item not a mapping", _set("actions/0/steps", ["x"]), "actions[0].steps[0]", "mapping"),
    ("result not a mapping", _set("actions/0/result", []), "actions[0].result", "a mapping"),
    # inputs
    (
        "input in unknown",
        _set("actions/1/inputs/0/in", "cookie"),
        "actions[1].inputs[0].in",
        "path, query, body, headers",
    ),
    (
        "input type unknown",
        _set("actions/0/inputs/0/type", "integer"),
        "actions[0].inputs[0].type",
        "datetime_string",
    ),
    (
        "input name invalid",
        _set("actions/0/inputs/0/name", "page-size"),
        "actions[0].inputs[0].name",
        "letters, digits or underscores",
    ),
    ("input in missing", _delete("actions/1/inputs/0/in"), "actions[1].inputs[0].in", "required"),
    (
        "input name duplicate",
        _append("actions/0/inputs", {"name": "page_size", "type": "string", "in": "body"}),
        "actions[0].inputs[1].name",
        "duplicate input name 'page_size'",
    ),
    (
        "unknown input key",
        _set("actions/1/inputs/0/default", 1),
        "actions[1].inputs[0].default",
        "unknown key",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "place", "fragment"),
    [pytest.param(m, p, f, id=name) for name, m, p, f in INVALID_CASES],
)
def test_invalid_definition_names_the_place(
    mutate: Callable[[Definition], None], place: str, fragment: str
) -> None:
    definition = base_definition()
    mutate(definition)
    errors = errors_of(definition)
    matching = [error for error in errors if error.field == place]
    assert matching, f"no error at {place}: {errors}"
    assert any(fragment in error.message for error in matching), matching


@pytest.mark.parametrize("name", sorted(RESERVED_VERSION_NAMES))
def test_reserved_version_names_are_refused(name: str) -> None:
    definition = base_definition()
    definition["info"]["version"] = name
    assert errors_of(definition) == [
        FieldError("info.version", f"{name!r} is a reserved name, not a version")
    ]


def test_all_errors_are_collected_and_sorted_by_place() -> None:
    definition = base_definition()
    definition["info"]["version"] = "1.2.0+build"
    definition["actions"][1]["inputs"][0]["in"] = "cookie"
    definition["authentication"]["configFields"][0]["key"] = "1sub"
    definition["actions"] += [
        {**copy.deepcopy(definition["actions"][1]), "actionId": f"action_{n}"} for n in range(9)
    ]
    definition["actions"][10]["actionType"] = "search"
    with pytest.raises(DefinitionError) as caught:
        parse(definition)
    error = caught.value
    assert places(error.errors) == [
        "actions[1].inputs[0].in",
        "actions[2].inputs[0].in",
        "actions[3].inputs[0].in",
        "actions[4].inputs[0].in",
        "actions[5].inputs[0].in",
        "actions[6].inputs[0].in",
        "actions[7].inputs[0].in",
        "actions[8].inputs[0].in",
        "actions[9].inputs[0].in",
        "actions[10].actionType",
        "actions[10].inputs[0].in",
        "authentication.configFields[0].key",
        "baseUrl",  # ${credentials.subdomain} no longer names a field
        "info.version",
    ]
    assert error.message == "The definition has 14 errors."
    assert str(error) == error.message


def test_one_error_is_spelled_out_in_the_message() -> None:
    definition = base_definition()
    definition["info"]["version"] = "latest"
    with pytest.raises(DefinitionError) as caught:
        parse(definition)
    assert caught.value.message == (
        "The definition has 1 error: info.version: 'latest' is a reserved name, not a version"
    )


# --- Files ------------------------------------------------------------------------------------


def test_no_files_is_an_error() -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_definition([])
    assert caught.value.status == 400
    assert places(caught.value.errors) == ["files"]


@pytest.mark.parametrize(
    "text", [b"", b"# only a comment\n", b"- a list\n", b"just text\n", b"~\n"]
)
def test_main_file_must_be_a_mapping(text: bytes) -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_definition([("main.yaml", text)])
    assert places(caught.value.errors) == ["files[main.yaml]"]
    assert "must be a YAML mapping" in caught.value.errors[0].message


def test_yaml_syntax_error_names_line_and_column() -> None:
    text = b"info:\n  title: Acme\n  key: [acme\nbaseUrl: x\n"
    with pytest.raises(DefinitionError) as caught:
        parse_definition([("main.yaml", text)])
    [error] = caught.value.errors
    assert error.field == "files[main.yaml]"
    assert error.message.startswith("YAML error at line 4, column 8:")


def test_two_documents_in_one_file_are_refused() -> None:
    text = dump(base_definition()) + b"---\nother: 1\n"
    with pytest.raises(DefinitionError) as caught:
        parse_definition([("main.yaml", text)])
    [error] = caught.value.errors
    assert error.field == "files[main.yaml]"
    assert "single document" in error.message


def test_non_string_mapping_keys_are_refused() -> None:
    definition = base_definition()
    text = dump(definition) + b"1: one\n"
    with pytest.raises(DefinitionError) as caught:
        parse_definition([("main.yaml", text)])
    [error] = caught.value.errors
    assert error.field == "files[main.yaml]"
    assert "mapping keys must be strings" in error.message


def test_errors_in_several_files_are_collected() -> None:
    files = [
        ("main.yaml", dump(base_definition())),
        ("deals.yaml", b"- [unclosed\n"),
        ("notes.txt", b"- {}\n"),
        ("deals.yaml", b"- {}\n"),
    ]
    with pytest.raises(DefinitionError) as caught:
        parse_definition(files)
    errors = caught.value.errors
    assert places(errors) == ["files[deals.yaml]", "files[deals.yaml]", "files[notes.txt]"]
    messages = " | ".join(error.message for error in errors)
    assert "two files have this name" in messages
    assert "YAML error at line 2" in messages
    assert "must end in .yaml or .yml" in messages


# --- Partials ---------------------------------------------------------------------------------

DEAL_ACTIONS: list[dict[str, Any]] = [
    {
        "actionId": "list_deals",
        "categories": ["crm"],
        "actionType": "list",
        "label": "List deals",
        "description": "All deals.",
    },
    {
        "actionId": "get_deal",
        "categories": ["crm"],
        "actionType": "get",
        "label": "Get deal",
        "description": "One deal.",
        "inputs": [{"name": "id", "type": "string", "in": "path", "required": True}],
    },
]


def with_refs(*refs: str, at: int = 1) -> Definition:
    definition = base_definition()
    definition["actions"][at:at] = [{"$ref": ref} for ref in refs]
    return definition


def test_list_partial_is_spliced_where_the_ref_stood() -> None:
    parsed = parse(with_refs("acme_crm.deals"), ("deals.yaml", DEAL_ACTIONS))
    ids = [action["actionId"] for action in parsed.definition["actions"]]
    assert ids == ["list_contacts", "list_deals", "get_deal", "get_contact"]
    assert list(parsed.source_files) == ["acme_crm.yaml", "deals.yaml"]


def test_mapping_partial_replaces_the_ref() -> None:
    parsed = parse(with_refs("acme_crm.get_deal"), ("get-deal.yaml", DEAL_ACTIONS[1]))
    assert parsed.definition["actions"][1] == DEAL_ACTIONS[1]


def test_mapping_partial_may_stand_for_any_mapping() -> None:
    definition = base_definition()
    definition["actions"][0]["result"] = {"$ref": "acme_crm.contact_result"}
    definition["authentication"] = {"$ref": "acme_crm.auth"}
    parsed = parse(
        definition,
        ("contact_result.yml", {"data": "$.x"}),
        ("acme_crm.auth.yaml", base_definition()["authentication"]),
    )
    assert parsed.definition["actions"][0]["result"] == {"data": "$.x"}
    assert parsed.definition["authentication"]["type"] == "api_key"


@pytest.mark.parametrize(
    ("file_name", "ref"),
    [
        ("deals.yaml", "acme_crm.deals"),
        ("deals.yml", "acme_crm.deals"),
        ("acme_crm.deals.yaml", "acme_crm.deals"),
        ("acme-crm.deals.yml", "acme_crm.deals"),
        ("open-deals.yaml", "acme_crm.open_deals"),
        ("open-deals.yaml", "acme_crm.open-deals"),
        ("acme-crm.open-deals.yaml", "acme_crm.open_deals"),
        ("partials/deals.yaml", "acme_crm.deals"),
    ],
)
def test_partial_file_names(file_name: str, ref: str) -> None:
    parsed = parse(with_refs(ref), (file_name, DEAL_ACTIONS))
    assert len(parsed.definition["actions"]) == 4


def test_nested_partials() -> None:
    deals = [DEAL_ACTIONS[0], {"$ref": "acme_crm.get_deal"}]
    get_deal = {**DEAL_ACTIONS[1], "result": {"$ref": "acme_crm.deal_result"}}
    parsed = parse(
        with_refs("acme_crm.deals"),
        ("deals.yaml", deals),
        ("get-deal.yaml", get_deal),
        ("deal-result.yaml", {"deal": "$.inputs"}),
    )
    actions = parsed.definition["actions"]
    assert [a["actionId"] for a in actions] == [
        "list_contacts",
        "list_deals",
        "get_deal",
        "get_contact",
    ]
    assert actions[2]["result"] == {"deal": "$.inputs"}


def test_a_partial_may_be_used_twice() -> None:
    definition = base_definition()
    for action in definition["actions"]:
        action["result"] = {"$ref": "acme_crm.result"}
    parsed = parse(definition, ("result.yaml", {"data": "$.data"}))
    assert [a["result"] for a in parsed.definition["actions"]] == [{"data": "$.data"}] * 2


def test_errors_inside_partials_name_the_spliced_place() -> None:
    deals = copy.deepcopy(DEAL_ACTIONS)
    deals[1]["inputs"][0]["in"] = "cookie"
    errors = errors_of(with_refs("acme_crm.deals"), ("deals.yaml", deals))
    assert places(errors) == ["actions[2].inputs[0].in"]


def test_missing_partial() -> None:
    errors = errors_of(with_refs("acme_crm.deals"))
    assert places(errors) == ["actions[1]"]
    assert "no partial file deals.yaml or acme_crm.deals.yaml" in errors[0].message


def test_missing_nested_partial_names_the_spliced_place() -> None:
    deals = [DEAL_ACTIONS[0], DEAL_ACTIONS[1], {"$ref": "acme_crm.more"}]
    errors = errors_of(with_refs("acme_crm.deals"), ("deals.yaml", deals))
    assert places(errors) == ["actions[3]"]


def test_reference_to_another_connectors_key() -> None:
    errors = errors_of(with_refs("hubspot.deals"), ("deals.yaml", DEAL_ACTIONS))
    assert places(errors) == ["actions[1]", "files[deals.yaml]"]
    assert "names the connector 'hubspot'" in errors[0].message
    assert "no $ref uses this partial file" in errors[1].message


def test_malformed_ref() -> None:
    errors = errors_of(with_refs("deals"))
    assert places(errors) == ["actions[1]"]
    assert "<key>.<resource>" in errors[0].message


def test_ref_must_be_the_only_key() -> None:
    definition = base_definition()
    definition["actions"][1]["$ref"] = "acme_crm.deals"
    errors = errors_of(definition, ("deals.yaml", DEAL_ACTIONS))
    assert FieldError("actions[1]", "$ref must be the only key of its mapping") in errors


def test_cycle_between_partials() -> None:
    errors = errors_of(
        with_refs("acme_crm.deals"),
        ("deals.yaml", [DEAL_ACTIONS[0], {"$ref": "acme_crm.more_deals"}]),
        ("more-deals.yaml", [{"$ref": "acme_crm.deals"}]),
    )
    assert places(errors) == ["actions[2]"]
    assert "cycle: deals.yaml → more-deals.yaml → deals.yaml" in errors[0].message


def test_partial_that_references_itself() -> None:
    errors = errors_of(
        with_refs("acme_crm.deals"),
        ("deals.yaml", [DEAL_ACTIONS[0], {"$ref": "acme_crm.deals"}]),
    )
    assert places(errors) == ["actions[2]"]
    assert "cycle: deals.yaml → deals.yaml" in errors[0].message


def test_unreferenced_partial() -> None:
    errors = errors_of(base_definition(), ("deals.yaml", DEAL_ACTIONS))
    assert errors == [FieldError("files[deals.yaml]", "no $ref uses this partial file")]


def test_partial_only_referenced_by_an_unreferenced_partial() -> None:
    errors = errors_of(
        base_definition(),
        ("deals.yaml", [{"$ref": "acme_crm.more"}]),
        ("more.yaml", DEAL_ACTIONS),
    )
    assert places(errors) == ["files[deals.yaml]", "files[more.yaml]"]


@pytest.mark.parametrize("content", [b"just a string\n", b"42\n", b""])
def test_partial_must_hold_a_list_or_mapping(content: bytes) -> None:
    errors = errors_of(with_refs("acme_crm.deals"), ("deals.yaml", content))
    assert errors == [
        FieldError("files[deals.yaml]", "a partial file must hold a YAML list or mapping")
    ]


def test_two_partials_answering_to_the_same_ref() -> None:
    errors = errors_of(
        with_refs("acme_crm.deals"),
        ("deals.yaml", DEAL_ACTIONS),
        ("acme-crm.deals.yaml", DEAL_ACTIONS),
    )
    assert errors == [
        FieldError(
            "actions[1]", "$ref 'acme_crm.deals' matches both deals.yaml and acme-crm.deals.yaml"
        )
    ]


def test_two_partial_files_with_the_same_name_but_suffix() -> None:
    errors = errors_of(
        with_refs("acme_crm.deals"),
        ("deals.yaml", DEAL_ACTIONS),
        ("deals.yml", DEAL_ACTIONS),
    )
    assert errors == [FieldError("files[deals.yml]", "answers to the same $ref as deals.yaml")]


def test_nesting_limit_applies_after_splicing() -> None:
    def nested(levels: int) -> Any:
        value: Any = "leaf"
        for _ in range(levels):
            value = {"n": value}
        return value

    definition = base_definition()  # result sits at depth 4: root, actions, action, result
    definition["actions"][0]["result"] = {"deep": {"$ref": "acme_crm.deep"}}
    parse(definition, ("deep.yaml", nested(MAX_DEPTH - 4)))  # deepest at 64
    errors = errors_of(definition, ("deep.yaml", nested(MAX_DEPTH - 3)))
    assert len(errors) == 1
    assert errors[0].field.startswith("actions[0].result.deep.n.n")
    assert "deeper than 64 levels" in errors[0].message


@pytest.mark.parametrize(
    ("icon", "ok"),
    [
        ("https://example.com/i.png", True),
        ("data:image/svg+xml;base64,PHN2Zy8+", True),
        ("data:image/png;base64,iVBORw0KGgo=", True),
        ("data:text/html;base64,PHNjcmlwdD4=", False),
        ("data:image/svg+xml,<svg onload=alert(1)>", False),
        ("data:image/png;base64," + "A" * 70_000, False),
        ("javascript:alert(1)", False),
        ("ftp://example.com/i.png", False),
    ],
)
def test_icon_is_an_http_url_or_a_small_data_image(icon: str, ok: bool) -> None:
    import yaml

    document = {
        "info": {"title": "T", "key": "acme_crm", "version": "1.0.0", "assets": {"icon": icon}},
        "baseUrl": "https://api.example.com",
        "authentication": {"type": "basic"},
        "actions": [],
    }
    files = [("c.yaml", yaml.safe_dump(document).encode())]
    if ok:
        assert parse_definition(files).icon == icon
    else:
        with pytest.raises(DefinitionError) as refused:
            parse_definition(files)
        assert [e.field for e in refused.value.errors] == ["info.assets.icon"]
