"""Demo data that uses the sandbox provider: a custom connector whose health check calls
this very server (SITE_URL/sandbox/api), and a profile with connections on it."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import yaml
from django.conf import settings
from django.core.management.base import CommandError

from connections.services.connect import redirect_uri
from connectors.models import ConnectorVersion
from connectors.selectors import own_version_by_key
from profiles.models import ConnectorProfile
from profiles.services import connector_version_push, profile_create, profile_update
from projects.models import Project
from projects.selectors import project_by_slug
from projects.services import Actor

KEY = "sandbox_crm"


def _icon(color: str) -> str:
    """A small square letter icon as a data: URI (works offline)."""
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
        f'<rect width="32" height="32" rx="7" fill="{color}"/><text x="16" y="22" '
        'font-family="sans-serif" font-size="18" font-weight="700" fill="#fff" '
        'text-anchor="middle">S</text></svg>'
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


CRM_ICON = _icon("#fd7e14")
HR_ICON = _icon("#20c997")


def _step(step_id: str, function: str, **parameters: Any) -> dict[str, Any]:
    return {"stepId": step_id, "stepFunction": {"functionName": function, "parameters": parameters}}


def _action(
    action_id: str,
    label: str,
    category: str,
    action_type: str,
    steps: list[dict[str, Any]],
    *,
    inputs: list[dict[str, Any]] | None = None,
    result: dict[str, Any] | None = None,
) -> dict[str, Any]:
    action: dict[str, Any] = {
        "actionId": action_id,
        "categories": [category],
        "actionType": action_type,
        "label": label,
        "description": f"{label} (sandbox provider).",
        "inputs": inputs or [],
        "steps": steps,
    }
    if result is not None:
        action["result"] = result
    return action


CONTACT_FIELDS: list[dict[str, Any]] = [
    {"targetFieldKey": "id", "expression": "$.id", "type": "string"},
    {"targetFieldKey": "name", "expression": "$.name", "type": "string"},
    {"targetFieldKey": "email", "expression": "$.email", "type": "string"},
    {
        "targetFieldKey": "stage",
        "expression": "$.stage",
        "type": "enum",
        "enumMapper": {
            "matcher": [
                {"matchExpression": "lead", "value": "prospect"},
                {"matchExpression": ["customer"], "value": "customer"},
                {"matchExpression": "{{value == 'churned'}}", "value": "lost"},
            ],
            "default": "unknown",
        },
    },
    {"targetFieldKey": "score", "expression": "$.score", "type": "number"},
    {"targetFieldKey": "vip", "expression": "$.vip", "type": "boolean", "custom": True},
    {"targetFieldKey": "created_at", "expression": "$.created", "type": "datetime_string"},
]
FILE_FIELDS: list[dict[str, Any]] = [
    {"targetFieldKey": "id", "expression": "$.id", "type": "string"},
    {"targetFieldKey": "name", "expression": "$.name", "type": "string"},
    {"targetFieldKey": "type", "expression": "$.kind", "type": "string"},
    {"targetFieldKey": "parent_id", "expression": "$.parent", "type": "string"},
]
_LIMIT_INPUT = {"name": "limit", "type": "number", "in": "query", "required": False}
CRM_ACTIONS: list[dict[str, Any]] = [
    _action(
        "get_me",
        "Get the account",
        "crm",
        "get",
        [_step("fetch", "request", url="/account", response={"dataKey": "account"})],
    ),
    _action(
        "list_contacts",
        "List contacts",
        "crm",
        "list",
        [
            _step(
                "fetch",
                "request",
                url="/crm/contacts",
                method="get",
                args=[
                    {
                        "name": "offset",
                        "value": "$.inputs.offset",
                        "in": "query",
                        "condition": "{{present(inputs.offset)}}",
                    },
                    {"name": "limit", "value": "${inputs.limit}", "in": "query"},
                    {
                        "name": "simulate",
                        "value": "$.inputs.simulate",
                        "in": "query",
                        "condition": "{{present(inputs.simulate)}}",
                    },
                ],
                response={"dataKey": "contacts", "nextKey": "paging.next_offset"},
            ),
            _step(
                "mapped",
                "map_fields",
                dataSource="$.steps.fetch.output.data",
                fields=CONTACT_FIELDS,
            ),
        ],
        inputs=[
            {"name": "offset", "type": "number", "in": "query", "required": False},
            _LIMIT_INPUT,
            {
                "name": "simulate",
                "type": "string",
                "in": "query",
                "required": False,
                "description": "401, 500 or slow: the sandbox answers that error",
            },
        ],
        result={"data": "$.steps.mapped.output.data", "next": "$.steps.fetch.output.next"},
    ),
    _action(
        "get_contact",
        "Get a contact",
        "crm",
        "get",
        [
            _step(
                "fetch",
                "request",
                url="/crm/contacts/${inputs.id}",
                response={"dataKey": "contact"},
                customErrors=[
                    {
                        "receivedStatus": 404,
                        "targetStatus": 404,
                        "message": "No contact ${inputs.id} in the sandbox CRM.",
                    }
                ],
            ),
            _step(
                "mapped",
                "map_fields",
                dataSource="$.steps.fetch.output.data",
                fields=CONTACT_FIELDS,
            ),
        ],
        inputs=[{"name": "id", "type": "string", "in": "path", "required": True}],
        result={"data": "$.steps.mapped.output.data"},
    ),
    _action(
        "account_overview",
        "Account and first contacts",
        "crm",
        "custom",
        [
            _step("account", "request", url="/account", response={"dataKey": "account"}),
            _step(
                "contacts",
                "request",
                url="/crm/contacts",
                args=[{"name": "limit", "value": 1, "in": "query"}],
                response={"dataKey": "paging"},
            ),
            _step("overview", "group_data", stepsDataToGroup=["account", "contacts"]),
        ],
        result={"data": "$.steps.overview.output.data"},
    ),
    _action(
        "get_file",
        "Get a file or folder",
        "documents",
        "get",
        [
            _step(
                "fetch",
                "request",
                url="/files/items/${inputs.resource_id}",
                response={"dataKey": "item"},
            ),
            _step(
                "mapped", "map_fields", dataSource="$.steps.fetch.output.data", fields=FILE_FIELDS
            ),
        ],
        inputs=[{"name": "resource_id", "type": "string", "in": "path", "required": True}],
        result={"data": "$.steps.mapped.output.data"},
    ),
    _action(
        "list_folder",
        "List a folder",
        "documents",
        "list",
        [
            _step(
                "root",
                "request",
                url="/files/items/root/children",
                response={"dataKey": "items", "nextKey": "next"},
            )
            | {"condition": "{{empty(inputs.resource_id)}}"},
            _step(
                "folder",
                "request",
                url="/files/items/${inputs.resource_id}/children",
                response={"dataKey": "items", "nextKey": "next"},
            )
            | {"condition": "{{present(inputs.resource_id)}}"},
            _step("items", "group_data", stepsDataToGroup=["root", "folder"]),
            _step(
                "mapped", "map_fields", dataSource="$.steps.items.output.data", fields=FILE_FIELDS
            ),
        ],
        inputs=[
            {"name": "resource_id", "type": "string", "in": "path", "required": False},
            {"name": "cursor", "type": "string", "in": "query", "required": False},
            {"name": "page_size", "type": "number", "in": "query", "required": False},
        ],
        result={"data": "$.steps.mapped.output.data"},
    ),
    _action(
        "search_files",
        "Search files",
        "documents",
        "list",
        [
            _step(
                "fetch",
                "request",
                url="/files/search",
                args=[{"name": "q", "value": "$.inputs.query", "in": "query"}],
                response={"dataKey": "items", "nextKey": "next"},
            ),
            _step(
                "mapped", "map_fields", dataSource="$.steps.fetch.output.data", fields=FILE_FIELDS
            ),
        ],
        inputs=[
            {"name": "query", "type": "string", "in": "query", "required": True},
            {"name": "cursor", "type": "string", "in": "query", "required": False},
            {"name": "page_size", "type": "number", "in": "query", "required": False},
        ],
        result={"data": "$.steps.mapped.output.data", "next": "$.steps.fetch.output.next"},
    ),
]


def hr_actions(employee_name: str) -> list[dict[str, Any]]:
    """The sandbox HR actions; ``employee_name`` is the mapping a 1.1.0 may change."""
    employee_fields: list[dict[str, Any]] = [
        {"targetFieldKey": "id", "expression": "$.id", "type": "string"},
        {"targetFieldKey": "name", "expression": employee_name, "type": "string"},
        {"targetFieldKey": "email", "expression": "$.work_email", "type": "string"},
        {
            "targetFieldKey": "employment_status",
            "expression": "$.employment_status",
            "type": "enum",
            "enumMapper": {
                "matcher": [
                    {"matchExpression": "Active", "value": "active"},
                    {"matchExpression": "On leave", "value": "leave"},
                    {"matchExpression": "Terminated", "value": "terminated"},
                ]
            },
        },
        {
            "targetFieldKey": "work",
            "type": "object",
            "expression": "$",
            "properties": [
                {"targetFieldKey": "department", "expression": "$.department", "type": "string"},
                {"targetFieldKey": "manager_id", "expression": "$.manager_id", "type": "string"},
            ],
        },
        {"targetFieldKey": "phones", "expression": "$.phones", "type": "string", "array": True},
        {"targetFieldKey": "start_date", "expression": "$.start_date", "type": "datetime_string"},
        {"targetFieldKey": "salary", "expression": "$.salary", "type": "string", "hidden": True},
    ]
    return [
        _action(
            "get_me",
            "Get the signed-in user",
            "hris",
            "get",
            [_step("fetch", "request", url="/oauth-me")],
        ),
        _action(
            "list_employees",
            "List employees",
            "hris",
            "list",
            [
                _step(
                    "fetch",
                    "paginated_request",
                    url="/hr/employees",
                    method="get",
                    args=[
                        {
                            "name": "limit",
                            "value": "$.inputs.page_size",
                            "in": "query",
                            "condition": "{{present(inputs.page_size)}}",
                        }
                    ],
                    response={"dataKey": "employees", "nextKey": "next_page_token"},
                    iterator={"key": "page_token", "in": "query"},
                    maxPages=10,
                ),
                _step(
                    "mapped",
                    "map_fields",
                    dataSource="$.steps.fetch.output.data",
                    fields=employee_fields,
                ),
                _step(
                    "typed",
                    "typecast",
                    dataSource="$.steps.mapped.output.data",
                    fields=[{"targetFieldKey": "id", "type": "string"}],
                ),
            ],
            inputs=[{"name": "page_size", "type": "number", "in": "query", "required": False}],
            result={"data": "$.steps.typed.output.data", "next": "$.steps.fetch.output.next"},
        ),
    ]


def _yaml(document: dict[str, Any]) -> bytes:
    # A JSON round trip unshares repeated parts (YAML anchors are refused by the parser).
    return yaml.safe_dump(json.loads(json.dumps(document)), sort_keys=False).encode()


def sandbox_definition(version: str = "1.0.0") -> bytes:
    document = {
        "info": {
            "title": "Sandbox CRM",
            "key": KEY,
            "version": version,
            "description": "A demo provider served by this dashboard at /sandbox/ "
            "(local only): health checks work without internet.",
            "assets": {"icon": CRM_ICON},
        },
        "baseUrl": settings.SITE_URL.rstrip("/") + "/sandbox/api",
        "authentication": {
            "type": "api_key",
            "headerName": "X-API-Key",
            "configFields": [
                {
                    "key": "api_key",
                    "label": "API key",
                    "type": "password",
                    "required": True,
                    "secret": True,
                    "placeholder": "demo_live_…",
                    "tooltip": "Keys starting demo_live_ work; demo_down_ get 503; others 401.",
                }
            ],
        },
        "healthCheck": {"path": "/me"},
        "actions": CRM_ACTIONS,
        "resources": {"get": "get_file", "children": "list_folder", "search": "search_files"},
    }
    return _yaml(document)


def seed_sandbox_profile(project: Project) -> ConnectorProfile:
    """The sandbox connector as a custom version of ``project`` and its "sandbox" profile."""
    if not ConnectorVersion.objects.filter(project=project, connector__key=KEY).exists():
        connector_version_push(
            actor=Actor.system(),
            project=project,
            files=[("sandbox_crm.yaml", sandbox_definition())],
            description="Calls the local sandbox provider.",
        )
    profile = ConnectorProfile.objects.filter(project=project, connector__key=KEY).first()
    if profile is None:
        profile = profile_create(
            actor=Actor.system(), project=project, connector_key=KEY, name="sandbox", pin="1.x.x"
        )
    return profile


def stale_sandbox_versions(project: Project) -> list[str]:
    """The sandbox versions of ``project`` whose provider URLs name another address than
    SITE_URL (seeded while the server ran elsewhere): their health checks and OAuth sign-in
    call that other address. Published versions are immutable, so only a fresh database
    fixes them."""
    site = settings.SITE_URL.rstrip("/") + "/sandbox/"
    versions = (
        ConnectorVersion.objects.filter(project=project, connector__key__in=[KEY, OAUTH_KEY])
        .select_related("connector")
        .order_by("connector__key", "version_key")
    )
    return [
        f"{version.connector.key} {version.version} ({version.definition.get('baseUrl')})"
        for version in versions
        if not str(version.definition.get("baseUrl", "")).startswith(site)
    ]


OAUTH_KEY = "sandbox_hr"
OAUTH_CLIENT_ID = "sandbox-demo-client"
# The demo's client secret: known, because the demo profile must hold it (encrypted there).
OAUTH_CLIENT_SECRET = "sandbox-demo-client-secret-0123456789"


def sandbox_oauth_definition(
    version: str = "1.0.0",
    scopes: tuple[str, ...] = ("contacts.read",),
    employee_name: str = "{{$.first_name + ' ' + $.last_name}}",
    *,
    versioned: bool = False,
) -> bytes:
    """Sandbox HR ``version``; ``versioned`` calls the provider under ``/v/<version>/``, where
    the demo's failure switch can make this version's calls fail."""
    site = settings.SITE_URL.rstrip("/")
    document = {
        "info": {
            "title": "Sandbox HR",
            "key": OAUTH_KEY,
            "version": version,
            "description": "OAuth 2 against the local sandbox provider (django-oauth-toolkit, "
            "PKCE): the whole connect flow works without internet.",
            "assets": {"icon": HR_ICON},
        },
        "baseUrl": site + "/sandbox/api" + (f"/v/{version}" if versioned else ""),
        "authentication": {
            "type": "oauth2",
            "setupFields": [
                {
                    "key": "client_id",
                    "label": "Client ID",
                    "type": "string",
                    "required": True,
                    "secret": False,
                },
                {
                    "key": "client_secret",
                    "label": "Client secret",
                    "type": "password",
                    "required": True,
                    "secret": True,
                },
            ],
            "authorizationUrl": site + "/sandbox/oauth/authorize/",
            "tokenUrl": site + "/sandbox/oauth/token/",
            "scopes": list(scopes),
        },
        "healthCheck": {"path": "/oauth-me"},
        "actions": hr_actions(employee_name),
    }
    return _yaml(document)


def ensure_sandbox_oauth_client(redirect_uri: str) -> None:
    """The sandbox provider's registered client (confidential, authorization code)."""
    from oauth2_provider.models import get_application_model

    Application = get_application_model()
    app = Application.objects.filter(client_id=OAUTH_CLIENT_ID).first()
    if app is None:
        Application.objects.create(
            name="Connector Hub demo",
            client_id=OAUTH_CLIENT_ID,
            client_secret=OAUTH_CLIENT_SECRET,
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris=redirect_uri,
        )
    elif redirect_uri not in app.redirect_uris.split():
        app.redirect_uris = " ".join([*app.redirect_uris.split(), redirect_uri])
        app.save(update_fields=["redirect_uris"])


def seed_sandbox_oauth_profile(project: Project) -> ConnectorProfile:
    """The sandbox OAuth connector in ``project``, its client registered with the sandbox
    provider, and a default profile holding the client id and secret."""
    ensure_sandbox_oauth_client(redirect_uri())
    if not ConnectorVersion.objects.filter(project=project, connector__key=OAUTH_KEY).exists():
        connector_version_push(
            actor=Actor.system(),
            project=project,
            files=[("sandbox_hr.yaml", sandbox_oauth_definition())],
            description="Signs in against the local sandbox OAuth server.",
        )
    profile = ConnectorProfile.objects.filter(project=project, connector__key=OAUTH_KEY).first()
    if profile is None:
        profile = profile_create(
            actor=Actor.system(),
            project=project,
            connector_key=OAUTH_KEY,
            name="sandbox",
            pin="1.x.x",
        )
        version = ConnectorVersion.objects.get(
            project=project, connector__key=OAUTH_KEY, version="1.0.0"
        )
        profile = profile_update(
            actor=Actor.system(),
            profile=profile,
            version=version,
            name=profile.name,
            is_default=True,
            values={"client_id": OAUTH_CLIENT_ID, "client_secret": OAUTH_CLIENT_SECRET},
        )
    return profile


def sandbox_oauth_tokens(owner_id: str, scope: str = "contacts.read") -> dict[str, Any]:
    """A token set the sandbox OAuth server really issued (rows of django-oauth-toolkit), so a
    seeded Sandbox HR connection can run actions at once; idempotent per ``owner_id``."""
    import secrets

    from django.utils import timezone
    from oauth2_provider.models import (
        get_access_token_model,
        get_application_model,
        get_refresh_token_model,
    )

    from .oauth import sandbox_user

    application = get_application_model().objects.get(client_id=OAUTH_CLIENT_ID)
    access = get_access_token_model().objects.create(
        user=sandbox_user(),
        application=application,
        token=f"sandbox-{owner_id}-{secrets.token_urlsafe(16)}",
        expires=timezone.now() + timedelta(hours=1),
        scope=scope,
    )
    refresh = get_refresh_token_model().objects.create(
        user=sandbox_user(),
        application=application,
        token=secrets.token_urlsafe(24),
        access_token=access,
    )
    return {
        "access_token": access.token,
        "refresh_token": refresh.token,
        "token_type": "Bearer",
        "expires_at": access.expires.timestamp(),
        "scope": scope,
    }


def demo_release(
    project_slug: str, number: str, definition: bytes, description: str
) -> ConnectorVersion:
    """Publish Sandbox HR ``number`` in the demo project (the demo_*_release commands); the
    version already there when it was published before (idempotent)."""
    project = project_by_slug(project_slug)
    if project is None:
        raise CommandError(f"No project {project_slug}; run seed_demo first.")
    version = own_version_by_key(project, OAUTH_KEY, number)
    if version is not None:
        return version
    return connector_version_push(
        actor=Actor.system(),
        project=project,
        files=[("sandbox_hr.yaml", definition)],
        description=description,
    ).version
