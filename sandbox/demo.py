"""Demo data that uses the sandbox provider: a custom connector whose health check calls
this very server (SITE_URL/sandbox/api), and a profile with connections on it."""

from __future__ import annotations

import base64

import yaml
from django.conf import settings

from connections.services.connect import redirect_uri
from connectors.models import ConnectorVersion
from connectors.services import connector_version_push
from profiles.models import ConnectorProfile
from profiles.services import profile_create, profile_update
from projects.models import Project
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
        "actions": [
            {
                "actionId": "get_me",
                "categories": ["crm"],
                "actionType": "get",
                "label": "Get the account",
                "description": "Returns the sandbox account behind the API key.",
                "entrypointUrl": "/me",
                "entrypointHttpMethod": "get",
            }
        ],
    }
    return yaml.safe_dump(document, sort_keys=False).encode()


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
    version: str = "1.0.0", scopes: tuple[str, ...] = ("contacts.read",)
) -> bytes:
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
        "baseUrl": site + "/sandbox/api",
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
        "actions": [
            {
                "actionId": "get_me",
                "categories": ["hris"],
                "actionType": "get",
                "label": "Get the signed-in user",
                "description": "Returns the sandbox user behind the access token.",
                "entrypointUrl": "/oauth-me",
                "entrypointHttpMethod": "get",
            }
        ],
    }
    return yaml.safe_dump(document, sort_keys=False).encode()


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
