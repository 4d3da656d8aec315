"""The OpenAPI document says every answer an operation can give: the error body's schema and
each 4xx/5xx status, added to what the routers declare for their successes.

Every operation can answer 400 (a parameter or body that does not validate), 401 (no valid API
key), 429 (too many wrong keys from the address) and 500 (logged, never a stack trace); an
operation with a path parameter 404 (another project's object, an unknown or malformed id); a
write 403 (a key whose scope does not allow it). ``EXTRA`` adds what a rule of the
operation's service can answer: 409 conflict, 413 too large, 422 refused by a rule, 502 the
provider failed, 503 the shared cache is down (a publish must invalidate it).
"""

from __future__ import annotations

from typing import Any

from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["code", "message", "fields"],
    "properties": {
        "code": {"type": "string", "description": "A machine-readable code, e.g. not_found."},
        "message": {"type": "string", "description": "A sentence for a person."},
        "fields": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
DESCRIPTIONS = {
    400: "The input is not valid (`fields` names what).",
    401: "No valid project API key.",
    403: "The key may not do this.",
    404: "No such object in the key's project.",
    409: "A conflict with the current state.",
    411: "A chunked body without Content-Length is refused.",
    413: "The request is too large.",
    422: "Refused by a rule (the message says which).",
    429: "Too many wrong API keys from this address (see Retry-After).",
    502: "The provider answered with an error or not at all.",
    504: "The provider did not answer in time.",
    503: "The shared cache is unreachable; nothing was changed (see Retry-After).",
    500: "An unexpected error on our side (logged).",
}
WRITES = {"post", "put", "patch", "delete"}
TRANSITION_VERBS = ("advance", "pause", "resume", "promote", "rollback")
# operationId → the statuses its service can answer beyond the common ones.
EXTRA: dict[str, set[int]] = {
    "api_connectors_push": {409, 411, 413, 422, 503},
    "api_connectors_version_delete": {409, 503},
    "api_connectors_version_publish": {409, 422, 503},
    "api_profiles_profile_create": {404, 409},
    "api_profiles_pin_set": {409},
    # refresh_oauth_tokens=true with a read-scoped key.
    "api_connections_connection_detail": {403, 502},
    "api_connections_connection_health": {502},
    "api_connect_sessions_connect_session_create": {404},
    "api_connection_imports_connection_import": {404, 422, 502},
    "api_connection_imports_connection_replace": {422, 502},
    "api_runtime_action_run": {409, 422, 502, 504},
    "api_runtime_resources_get": {403, 409, 422, 502, 504},
    "api_runtime_resources_children": {403, 409, 422, 502, 504},
    "api_runtime_resources_search": {403, 409, 422, 502, 504},
    "api_webhooks_webhook_test": {409},
    "api_staged_rollouts_rollout_start": {409},
    **{f"api_staged_rollouts_rollout_{verb}": {409} for verb in TRANSITION_VERBS},
    "api_rollouts_migration_create": {409},
    "api_rollouts_migration_update": {409},
    "api_webhooks_delivery_retry": {409},
}


def error_statuses(method: str, path: str, operation_id: str) -> set[int]:
    statuses = {400, 401, 429, 500}
    if "{" in path:
        statuses.add(404)
    if method in WRITES:
        statuses.add(403)
    return statuses | EXTRA.get(operation_id, set())


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the error schema and the error answers of every operation to ``schema``."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status in sorted(error_statuses(method, path, operation["operationId"])):
                responses.setdefault(
                    status,
                    {
                        "description": DESCRIPTIONS[status],
                        "content": {"application/json": {"schema": ref}},
                    },
                )
    return schema


class DocumentedNinjaAPI(NinjaAPI):
    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        document_errors(schema)
        return schema
