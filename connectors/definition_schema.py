"""JSON Schema (Draft 2020-12) for the shape of a connector definition.

See docs/connector-definition.md. Shapes only: the rules that span several places
(uniqueness, semver, URLs, ``${credentials.<key>}`` references, oauth2 URLs) are checked in
Python by :mod:`connectors.definition`.
"""

from __future__ import annotations

from typing import Any, Final

CONNECTOR_KEY_PATTERN: Final = r"^[a-z][a-z0-9_]{1,63}$"
FIELD_KEY_PATTERN: Final = r"^[a-zA-Z][a-zA-Z0-9_]{0,63}$"
ACTION_ID_PATTERN: Final = r"^[a-z][a-z0-9_]{0,99}$"
INPUT_NAME_PATTERN: Final = r"^[a-zA-Z_][a-zA-Z0-9_]{0,99}$"
HEALTH_CHECK_PATH_PATTERN: Final = r"^/"
STEP_ID_PATTERN: Final = r"^[a-zA-Z][a-zA-Z0-9_]{0,63}$"
# RFC 7230 token (tchar+), so a header name can never carry ": " or a line break.
HEADER_NAME_PATTERN: Final = r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100}$"

# A human description of each pattern, used in error messages.
PATTERN_DESCRIPTIONS: Final[dict[str, str]] = {
    CONNECTOR_KEY_PATTERN: (
        "2 to 64 lowercase letters, digits or underscores, starting with a letter"
    ),
    FIELD_KEY_PATTERN: "1 to 64 letters, digits or underscores, starting with a letter",
    ACTION_ID_PATTERN: "1 to 100 lowercase letters, digits or underscores, starting with a letter",
    INPUT_NAME_PATTERN: (
        "1 to 100 letters, digits or underscores, starting with a letter or an underscore"
    ),
    HEALTH_CHECK_PATH_PATTERN: "a path starting with /",
    STEP_ID_PATTERN: "1 to 64 letters, digits or underscores, starting with a letter",
    HEADER_NAME_PATTERN: (
        "an HTTP header name (an RFC 7230 token of 1 to 100 letters, digits and "
        "!#$%&'*+-.^_`|~; no spaces, colons or line breaks)"
    ),
}

AUTH_TYPES: Final = ("oauth2", "api_key", "basic", "custom")
FIELD_TYPES: Final = ("string", "number", "boolean", "password", "url", "email", "select")
CATEGORIES: Final = (
    "hris",
    "ats",
    "crm",
    "lms",
    "documents",
    "ticketing",
    "messaging",
    "iam",
    "accounting",
    "internal",
)
ACTION_TYPES: Final = ("list", "get", "create", "update", "delete", "custom", "refresh_token")
HTTP_METHODS: Final = ("get", "post", "put", "patch", "delete")
HEALTH_CHECK_METHODS: Final = ("GET", "HEAD", "POST")
INPUT_TYPES: Final = ("string", "number", "boolean", "datetime_string", "object")
INPUT_LOCATIONS: Final = ("path", "query", "body", "headers")

_STRING: Final[dict[str, Any]] = {"type": "string"}
_BOOLEAN: Final[dict[str, Any]] = {"type": "boolean"}

FIELD_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["key", "label", "type"],
    "properties": {
        "key": {"type": "string", "pattern": FIELD_KEY_PATTERN},
        "label": _STRING,
        "type": {"type": "string", "enum": list(FIELD_TYPES)},
        "required": _BOOLEAN,
        "secret": _BOOLEAN,
        "placeholder": _STRING,
        "tooltip": _STRING,
        "options": {"type": "array", "items": _STRING},
    },
}

INPUT_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "type", "in"],
    "properties": {
        "name": {"type": "string", "pattern": INPUT_NAME_PATTERN},
        "type": {"type": "string", "enum": list(INPUT_TYPES)},
        "in": {"type": "string", "enum": list(INPUT_LOCATIONS)},
        "required": _BOOLEAN,
        "description": _STRING,
    },
}

STEP_FUNCTIONS: Final = ("request", "paginated_request", "map_fields", "typecast", "group_data")
ARG_LOCATIONS: Final = ("query", "body", "headers")
MAPPED_TYPES: Final = ("string", "number", "boolean", "datetime_string", "enum", "object")
CUSTOM_ERROR_STATUSES: Final = (400, 404, 409, 422, 502)
OVERRIDE_AUTH_TYPES: Final = ("none", "basic", "bearer", "header")

_EXPRESSION: Final[dict[str, Any]] = {"type": "string", "minLength": 1}

ARG_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "value", "in"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "value": {},
        "in": {"type": "string", "enum": list(ARG_LOCATIONS)},
        "condition": _EXPRESSION,
    },
}

RESPONSE_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "collection": _BOOLEAN,
        "dataKey": _EXPRESSION,
        "indexField": _EXPRESSION,
        "nextKey": _EXPRESSION,
    },
}

CUSTOM_ERROR_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["receivedStatus", "targetStatus"],
    "properties": {
        "receivedStatus": {"type": "integer", "minimum": 100, "maximum": 599},
        "targetStatus": {"type": "integer", "enum": list(CUSTOM_ERROR_STATUSES)},
        "message": {"type": "string", "maxLength": 500},
        "condition": _EXPRESSION,
    },
}

AUTHORIZATION_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type"],
    "properties": {
        "type": {"type": "string", "enum": list(OVERRIDE_AUTH_TYPES)},
        "username": _STRING,
        "password": _STRING,
        "token": _STRING,
        "name": {"type": "string", "pattern": HEADER_NAME_PATTERN},
        "value": _STRING,
    },
}

_REQUEST_PROPERTIES: Final[dict[str, Any]] = {
    "url": {"type": "string", "minLength": 1},
    "method": {"type": "string", "enum": list(HTTP_METHODS)},
    "args": {"type": "array", "items": ARG_SCHEMA},
    "authorization": AUTHORIZATION_SCHEMA,
    "response": RESPONSE_SCHEMA,
    "customErrors": {"type": "array", "items": CUSTOM_ERROR_SCHEMA},
}

REQUEST_PARAMETERS: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url"],
    "properties": _REQUEST_PROPERTIES,
}

PAGINATED_PARAMETERS: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url", "response", "iterator"],
    "properties": {
        **_REQUEST_PROPERTIES,
        "response": {**RESPONSE_SCHEMA, "required": ["dataKey", "nextKey"]},
        "iterator": {
            "type": "object",
            "additionalProperties": False,
            "required": ["key", "in"],
            "properties": {
                "key": {"type": "string", "minLength": 1, "maxLength": 200},
                "in": {"type": "string", "enum": ["query", "body"]},
            },
        },
        "maxPages": {"type": "integer", "minimum": 1, "maximum": 1000},
    },
}

FIELD_MAPPING_SCHEMA: Final[dict[str, Any]] = {
    "$id": "field-mapping",
    "type": "object",
    "additionalProperties": False,
    "required": ["targetFieldKey"],
    "properties": {
        "targetFieldKey": {"type": "string", "pattern": FIELD_KEY_PATTERN},
        "expression": _EXPRESSION,
        "type": {"type": "string", "enum": list(MAPPED_TYPES)},
        "array": _BOOLEAN,
        "enumMapper": {
            "type": "object",
            "additionalProperties": False,
            "required": ["matcher"],
            "properties": {
                "matcher": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["matchExpression", "value"],
                        "properties": {
                            "matchExpression": {},
                            "value": {"type": ["string", "number", "boolean", "null"]},
                        },
                    },
                },
                "default": {"type": ["string", "number", "boolean", "null"]},
            },
        },
        "properties": {"type": "array", "items": {"$ref": "field-mapping"}},
        "custom": _BOOLEAN,
        "hidden": _BOOLEAN,
    },
}

MAP_FIELDS_PARAMETERS: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["dataSource", "fields"],
    "properties": {
        "dataSource": _EXPRESSION,
        "fields": {"type": "array", "items": FIELD_MAPPING_SCHEMA},
    },
}

TYPECAST_PARAMETERS: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["dataSource", "fields"],
    "properties": {
        "dataSource": _EXPRESSION,
        "fields": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["targetFieldKey", "type"],
                "properties": {
                    "targetFieldKey": {"type": "string", "pattern": FIELD_KEY_PATTERN},
                    "type": {"type": "string", "enum": list(MAPPED_TYPES)},
                },
            },
        },
    },
}

GROUP_DATA_PARAMETERS: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["stepsDataToGroup"],
    "properties": {
        "stepsDataToGroup": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "pattern": STEP_ID_PATTERN},
        },
        "isSingleRecord": _BOOLEAN,
    },
}

STEP_PARAMETERS: Final[dict[str, dict[str, Any]]] = {
    "request": REQUEST_PARAMETERS,
    "paginated_request": PAGINATED_PARAMETERS,
    "map_fields": MAP_FIELDS_PARAMETERS,
    "typecast": TYPECAST_PARAMETERS,
    "group_data": GROUP_DATA_PARAMETERS,
}

STEP_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["stepId", "stepFunction"],
    "properties": {
        "stepId": {"type": "string", "pattern": STEP_ID_PATTERN},
        "description": _STRING,
        "condition": _EXPRESSION,
        "stepFunction": {
            "type": "object",
            "additionalProperties": False,
            "required": ["functionName", "parameters"],
            "properties": {
                "functionName": {"type": "string", "enum": list(STEP_FUNCTIONS)},
                "parameters": {"type": "object"},
            },
            "allOf": [
                {
                    "if": {
                        "required": ["functionName"],
                        "properties": {"functionName": {"const": name}},
                    },
                    "then": {"properties": {"parameters": parameters}},
                }
                for name, parameters in STEP_PARAMETERS.items()
            ],
        },
    },
}

# ``data`` and ``next`` are what an action answers; other keys are kept and not used.
RESULT_SCHEMA: Final[dict[str, Any]] = {"type": "object", "properties": {"data": {}, "next": {}}}

RESOURCES_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "get": {"type": "string", "pattern": ACTION_ID_PATTERN},
        "children": {"type": "string", "pattern": ACTION_ID_PATTERN},
        "search": {"type": "string", "pattern": ACTION_ID_PATTERN},
    },
}

ACTION_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["actionId", "categories", "actionType", "label", "description"],
    "properties": {
        "actionId": {"type": "string", "pattern": ACTION_ID_PATTERN},
        "categories": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "enum": list(CATEGORIES)},
        },
        "actionType": {"type": "string", "enum": list(ACTION_TYPES)},
        "label": _STRING,
        "description": _STRING,
        "context": _STRING,
        "entrypointUrl": _STRING,
        "entrypointHttpMethod": {"type": "string", "enum": list(HTTP_METHODS)},
        "inputs": {"type": "array", "items": INPUT_SCHEMA},
        "steps": {"type": "array", "items": STEP_SCHEMA},
        "result": RESULT_SCHEMA,
    },
}

DEFINITION_SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Connector definition",
    "type": "object",
    "additionalProperties": False,
    "required": ["info", "baseUrl", "authentication", "actions"],
    "properties": {
        "info": {
            "type": "object",
            "additionalProperties": False,
            "required": ["title", "key", "version"],
            "properties": {
                "title": {"type": "string", "minLength": 1, "maxLength": 200},
                "key": {"type": "string", "pattern": CONNECTOR_KEY_PATTERN},
                "version": _STRING,
                "description": _STRING,
                # The spec lists only `icon`, but does not make unknown keys of `assets`
                # errors.
                "assets": {"type": "object", "properties": {"icon": _STRING}},
            },
        },
        "baseUrl": _STRING,
        "authentication": {
            "type": "object",
            "additionalProperties": False,
            "required": ["type"],
            "properties": {
                "type": {"type": "string", "enum": list(AUTH_TYPES)},
                "setupFields": {"type": "array", "items": FIELD_SCHEMA},
                "configFields": {"type": "array", "items": FIELD_SCHEMA},
                "authorizationUrl": _STRING,
                "tokenUrl": _STRING,
                "scopes": {"type": "array", "items": {"type": "string", "minLength": 1}},
                "headerName": {"type": "string", "pattern": HEADER_NAME_PATTERN},
                "queryParamName": {"type": "string", "minLength": 1, "maxLength": 100},
            },
        },
        "healthCheck": {
            "type": "object",
            "required": ["path"],
            "properties": {
                "path": {"type": "string", "pattern": HEALTH_CHECK_PATH_PATTERN},
                "method": {"type": "string", "enum": list(HEALTH_CHECK_METHODS)},
                "expectStatus": {"type": "integer", "minimum": 100, "maximum": 599},
            },
        },
        "actions": {"type": "array", "items": ACTION_SCHEMA},
        "resources": RESOURCES_SCHEMA,
    },
}
