"""The connector the MCP tests call: a people API on tests.provider's loopback server with a
list, a get that answers the key it was sent (a secret the tool result must never show), a
create and a delete; 1.1.0 adds count_people."""

from __future__ import annotations

from typing import Any

from tests.runtime.helpers import definition, step


def _action(action_id: str, action_type: str, steps: list[dict[str, Any]], **extra: Any) -> Any:
    return {
        "actionId": action_id,
        "categories": ["crm"],
        "actionType": action_type,
        "label": action_id.replace("_", " ").capitalize(),
        "description": extra.pop("description", f"{action_id} through the people API."),
        "inputs": extra.pop("inputs", []),
        "steps": steps,
        **extra,
    }


def people(url: str, version: str = "1.0.0") -> dict[str, Any]:
    actions = [
        _action(
            "list_people",
            "list",
            [
                step(
                    "fetch",
                    "request",
                    url="/people",
                    args=[{"name": "team", "value": "$.inputs.team", "in": "query"}],
                    response={"dataKey": "people"},
                )
            ],
            inputs=[
                {"name": "team", "type": "string", "in": "query", "description": "A team's name."},
                {"name": "limit", "type": "number", "in": "query"},
                {"name": "since", "type": "datetime_string", "in": "query"},
            ],
            result={"data": "$.steps.fetch.output.data"},
        ),
        _action(
            "whoami",
            "get",
            [step("fetch", "request", url="/whoami")],
            result={"data": "$.steps.fetch.output.data"},
        ),
        _action(
            "create_person",
            "create",
            [
                step(
                    "fetch",
                    "request",
                    url="/people",
                    method="post",
                    args=[{"name": "name", "value": "$.inputs.name", "in": "body"}],
                )
            ],
            inputs=[{"name": "name", "type": "string", "in": "body", "required": True}],
            result={"data": "$.steps.fetch.output.data"},
        ),
        _action(
            "delete_person",
            "delete",
            [step("fetch", "request", url="/people/${inputs.id}", method="delete")],
            inputs=[{"name": "id", "type": "string", "in": "path", "required": True}],
        ),
    ]
    if version != "1.0.0":
        actions.append(
            _action(
                "count_people",
                "list",
                [step("fetch", "request", url="/people", response={"dataKey": "people"})],
                result={"data": "$.steps.fetch.output.data"},
            )
        )
    return definition(url, actions, version=version)
