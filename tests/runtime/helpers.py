"""Definitions with steps for the runtime tests, pushed as custom versions of a project, and
connections on them; the provider is tests.provider's real loopback server."""

from __future__ import annotations

from typing import Any

import yaml

from connections.models import Connection
from connectors.models import ConnectorVersion
from profiles.models import ConnectorProfile
from profiles.services import connector_version_push, profile_create
from projects.models import Project
from projects.services import Actor
from tests.factories import make_connection

KEY = "runtime_crm"
SECRET_KEY = "sk_live_runtime_secret_0042"


def step(step_id: str, function: str, **parameters: Any) -> dict[str, Any]:
    return {"stepId": step_id, "stepFunction": {"functionName": function, "parameters": parameters}}


def action(
    action_id: str,
    steps: list[dict[str, Any]],
    *,
    inputs: list[dict[str, Any]] | None = None,
    result: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "actionId": action_id,
        "categories": ["crm"],
        "actionType": "custom",
        "label": action_id,
        "description": action_id,
        "inputs": inputs or [],
        "steps": steps,
    }
    if result is not None:
        body["result"] = result
    return body


def definition(
    base_url: str,
    actions: list[dict[str, Any]],
    *,
    version: str = "1.0.0",
    auth: dict[str, Any] | None = None,
    resources: dict[str, str] | None = None,
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "info": {"title": "Runtime CRM", "key": KEY, "version": version},
        "baseUrl": base_url,
        "authentication": auth
        or {
            "type": "api_key",
            "headerName": "X-Api-Key",
            "configFields": [
                {
                    "key": "api_key",
                    "label": "API key",
                    "type": "password",
                    "required": True,
                    "secret": True,
                }
            ],
        },
        "actions": actions,
    }
    if resources:
        document["resources"] = resources
    return document


def push(project: Project, document: dict[str, Any], *, force: bool = False) -> ConnectorVersion:
    body = yaml.safe_dump(document, sort_keys=False).encode()
    return connector_version_push(
        actor=Actor.system(),
        project=project,
        files=[("c.yaml", body)],
        force=force,
        acknowledge_breaking=True,
    ).version


def connection_on(
    project: Project,
    document: dict[str, Any],
    *,
    pin: str | None = None,
    config: dict[str, str] | None = None,
    tokens: dict[str, Any] | None = None,
) -> tuple[ConnectorProfile, Connection]:
    push(project, document)
    profile = profile_create(
        actor=Actor.system(), project=project, connector_key=KEY, name="main", pin=pin
    )
    connection = make_connection(
        profile, config=config if config is not None else {"api_key": SECRET_KEY}, tokens=tokens
    )
    return profile, connection
