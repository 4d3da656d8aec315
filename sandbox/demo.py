"""Demo data that uses the sandbox provider: a custom connector whose health check calls
this very server (SITE_URL/sandbox/api), and a profile with connections on it."""

from __future__ import annotations

import yaml
from django.conf import settings

from connectors.models import ConnectorVersion
from connectors.services import connector_version_push
from profiles.models import ConnectorProfile
from profiles.services import profile_create
from projects.models import Project
from projects.services import Actor

KEY = "sandbox_crm"


def sandbox_definition(version: str = "1.0.0") -> bytes:
    document = {
        "info": {
            "title": "Sandbox CRM",
            "key": KEY,
            "version": version,
            "description": "A demo provider served by this dashboard at /sandbox/ "
            "(local only): health checks work without internet.",
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
