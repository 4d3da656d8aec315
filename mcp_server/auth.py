"""Who an agent acts for, checked once where the request enters: ``Authorization: Bearer
<project API key>`` (scope ``agent`` or ``full``) and either ``Connection-Id: <uuid>`` (one
connection) or ``Origin-Owner-Id: <id>`` (all of one end user's connections in the key's
project). A refusal is an HTTP status with a JSON-RPC error body; nothing is read further."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.http import HttpRequest

from agents.selectors import agent_connections
from connections.models import Connection
from core.validation import text_problem
from interfaces_common.api_keys import KeyThrottled, api_key_login
from projects.models import ApiKey, Project
from projects.services import Actor, client_ip

MAX_OWNER_ID = 255


@dataclass(frozen=True)
class Agent:
    """The key, its project and the connections the agent acts for (at least one)."""

    api_key: ApiKey
    connections: list[Connection]
    ip: str | None

    @property
    def project(self) -> Project:
        return self.api_key.project

    @property
    def actor(self) -> Actor:
        return Actor(api_key=self.api_key, ip=self.ip)


@dataclass(frozen=True)
class Refusal(Exception):
    status: int
    message: str
    retry_after: int | None = None


def agent_of(request: HttpRequest) -> Agent:
    """The agent of this request, or ``Refusal`` (401, 403, 400, 404; 429 after too many
    wrong keys from this address, as on the JSON API)."""
    scheme, _, raw = request.headers.get("Authorization", "").strip().partition(" ")
    try:
        api_key = api_key_login(request, raw.strip()) if scheme.lower() == "bearer" else None
    except KeyThrottled as throttled:
        raise Refusal(429, str(throttled), retry_after=throttled.wait) from None
    if api_key is None:
        raise Refusal(401, "Send a project API key: Authorization: Bearer <key>.")
    if not api_key.can_use_mcp:
        raise Refusal(
            403, f"API key {api_key.prefix} has scope {api_key.scope}: /mcp needs agent or full."
        )
    connection_id = request.headers.get("Connection-Id", "").strip()
    owner_id = request.headers.get("Origin-Owner-Id", "").strip()
    if bool(connection_id) == bool(owner_id):
        raise Refusal(
            400,
            "Send exactly one of Connection-Id (a connection's id) and Origin-Owner-Id "
            "(an end user's id: all of their connections).",
        )
    if connection_id:
        try:
            public_id = uuid.UUID(connection_id)
        except ValueError:
            raise Refusal(400, "Connection-Id must be a connection's id (a UUID).") from None
        connections = agent_connections(api_key.project, connection_id=public_id)
        missing = "No such connection in this project."
    else:
        problem = text_problem(owner_id, max_length=MAX_OWNER_ID)
        if problem is not None:
            raise Refusal(400, f"Origin-Owner-Id {problem}.")
        connections = agent_connections(api_key.project, owner_id=owner_id)
        missing = "This end user has no connections in this project."
    if not connections:
        raise Refusal(404, missing)
    return Agent(api_key, connections, client_ip(request))
