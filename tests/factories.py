"""Small factories for the tests: real rows through the real services where it matters."""

from __future__ import annotations

import itertools

from django.contrib.auth.models import User

from projects.models import ApiKey, Membership, Organization, Project, Role, Team
from projects.services import Actor, api_key_create

_seq = itertools.count(1)
PASSWORD = "correct-horse-battery-staple"


def make_user(username: str | None = None, **extra: object) -> User:
    n = next(_seq)
    username = username or f"user{n}"
    return User.objects.create_user(
        username=username,
        email=f"{username}@example.com",
        password=PASSWORD,
        **extra,
    )


def make_organization(slug: str | None = None) -> Organization:
    n = next(_seq)
    slug = slug or f"org-{n}"
    return Organization.objects.create(slug=slug, name=f"Org {slug}")


def make_project(organization: Organization | None = None, slug: str | None = None) -> Project:
    n = next(_seq)
    organization = organization or make_organization()
    slug = slug or f"project-{n}"
    return Project.objects.create(organization=organization, slug=slug, name=f"Project {slug}")


def make_member(organization: Organization, role: str = Role.MEMBER, **user_extra: object) -> User:
    user = make_user(**user_extra)  # type: ignore[arg-type]
    Membership.objects.create(organization=organization, user=user, role=role)
    return user


def make_team(organization: Organization, name: str | None = None, *members: User) -> Team:
    team = Team.objects.create(organization=organization, name=name or f"Team {next(_seq)}")
    team.members.add(*members)
    return team


def make_api_key(project: Project, name: str = "test key") -> tuple[ApiKey, str]:
    return api_key_create(actor=Actor.system(), project=project, name=name)


def connector_yaml(
    key: str = "acme_crm",
    version: str = "1.0.0",
    *,
    title: str = "Acme CRM",
    auth_type: str = "api_key",
    actions: tuple[str, ...] = ("list_contacts",),
    required_fields: tuple[str, ...] = ("api_key",),
    optional_fields: tuple[str, ...] = (),
    scopes: tuple[str, ...] = ("contacts.read",),
    description: str = "Contacts and deals.",
) -> bytes:
    """A valid definition (docs/connector-definition.md); vary the knobs to make changes."""
    import yaml

    fields = [
        {"key": f, "label": f.title(), "type": "password", "required": True, "secret": True}
        for f in required_fields
    ] + [
        {"key": f, "label": f.title(), "type": "string", "required": False} for f in optional_fields
    ]
    auth: dict[str, object] = {"type": auth_type, "configFields": fields}
    if auth_type == "oauth2":
        auth.update(
            authorizationUrl="https://auth.example.com/authorize",
            tokenUrl="https://auth.example.com/token",
            scopes=list(scopes),
        )
    document = {
        "info": {"title": title, "key": key, "version": version, "description": description},
        "baseUrl": "https://api.example.com",
        "authentication": auth,
        "actions": [
            {
                "actionId": action,
                "categories": ["crm"],
                "actionType": "list",
                "label": action.replace("_", " ").title(),
                "description": f"{action} description",
            }
            for action in actions
        ],
    }
    return yaml.safe_dump(document, sort_keys=False).encode()
