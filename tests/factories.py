"""Small factories for the tests: real rows through the real services where it matters."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from django.contrib.auth.models import User
from django.core.cache import cache
from django.db.models import QuerySet

from connectors.cache import generation_key
from connectors.models import ConnectorVersion
from profiles.services import connector_version_push, profile_create
from projects.models import ApiKey, Membership, Organization, Project, Role, Team
from projects.services import Actor, api_key_create

if TYPE_CHECKING:
    from connections.models import Connection
    from profiles.models import ConnectorProfile

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


def make_api_key(
    project: Project, name: str = "test key", *, scope: str = "full"
) -> tuple[ApiKey, str]:
    return api_key_create(actor=Actor.system(), project=project, name=name, scope=scope)


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
    base_url: str = "https://api.example.com",
    health_path: str | None = None,
    token_url: str = "https://auth.example.com/token",
    authorization_url: str = "https://auth.example.com/authorize",
    header_name: str | None = None,
    setup_fields: tuple[str, ...] | None = None,
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
            authorizationUrl=authorization_url,
            tokenUrl=token_url,
            scopes=list(scopes),
        )
    if header_name:
        auth["headerName"] = header_name
    if setup_fields:
        auth["setupFields"] = [
            {
                "key": f,
                "label": f.replace("_", " ").title(),
                "type": "password" if "secret" in f else "string",
                "required": True,
                "secret": "secret" in f,
            }
            for f in setup_fields
        ]
    document = {
        "info": {"title": title, "key": key, "version": version, "description": description},
        "baseUrl": base_url,
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
    if health_path:
        document["healthCheck"] = {"path": health_path}
    return yaml.safe_dump(document, sort_keys=False).encode()


def publish_version(
    project: Project | None,
    version: str,
    key: str = "acme_crm",
    *,
    draft: bool = False,
    **definition: object,
) -> ConnectorVersion:
    """Publish ``version`` of ``key`` (definition knobs of connector_yaml) in ``project``, or
    as a built-in version when ``project`` is None; breaking changes acknowledged."""
    return connector_version_push(
        actor=Actor.system(),
        project=project,
        files=[("c.yaml", connector_yaml(key=key, version=version, **definition))],  # type: ignore[arg-type]
        draft=draft,
        acknowledge_breaking=True,
    ).version


def pin_profile(
    project: Project, name: str, pin: str | None = None, key: str = "acme_crm"
) -> ConnectorProfile:
    """A profile of ``key`` in ``project`` pinned to ``pin``, on the versions already there."""
    return profile_create(
        actor=Actor.system(), project=project, connector_key=key, name=name, pin=pin
    )


def same_versions_generation(*connector_ids: int, value: int = 1_000) -> None:
    """Give these connectors the same versions generation in the cache (as two connectors
    seeded in the same clock tick would have), so that only the connector id in a cached
    entry's key keeps them apart."""
    for connector_id in connector_ids:
        cache.set(generation_key(connector_id), value, timeout=None)


def make_profile(
    project: Project,
    key: str = "acme_crm",
    name: str = "production",
    *,
    version: str = "1.0.0",
    pin: str | None = None,
    setup: dict[str, str] | None = None,
    **definition: object,
) -> ConnectorProfile:
    """A custom version of ``key`` published in ``project`` (definition knobs of
    connector_yaml) and a profile on it; ``setup`` fills setup fields (secrets encrypted)."""
    from connectors.models import ConnectorVersion
    from profiles.services import connector_version_push, profile_create, profile_update

    connector_version_push(
        actor=Actor.system(),
        project=project,
        files=[("c.yaml", connector_yaml(key=key, version=version, **definition))],  # type: ignore[arg-type]
        acknowledge_breaking=True,
    )
    profile = profile_create(
        actor=Actor.system(), project=project, connector_key=key, name=name, pin=pin
    )
    if setup:
        version_row = ConnectorVersion.objects.get(
            connector__key=key, project=project, version=version
        )
        profile = profile_update(
            actor=Actor.system(),
            profile=profile,
            version=version_row,
            name=name,
            is_default=profile.is_default,
            values=setup,
        )
    return profile


def make_connection(
    profile: ConnectorProfile,
    owner_id: str | None = None,
    *,
    config: dict[str, str] | None = None,
    tokens: dict[str, object] | None = None,
    **extra: str,
) -> Connection:
    """A connection through the real service (config validated, secrets encrypted)."""
    from connections.services.connections import connection_create

    n = next(_seq)
    owner_id = owner_id or f"end-user-{n}"
    return connection_create(
        actor=Actor.system(),
        profile=profile,
        origin_owner_id=owner_id,
        origin_owner_name=extra.pop("origin_owner_name", f"End User {n}"),
        email=extra.pop("email", f"{owner_id}@customer.example"),
        config=config if config is not None else {"api_key": f"sk_live_{n:04d}_abcdefghijkl"},
        oauth_tokens=tokens,
        **extra,
    )


def member_id(user: User, organization: Organization | None = None) -> str:
    """The user's public id in RBAC bodies: their membership's (in ``organization``, or in
    their only organization)."""
    memberships = Membership.objects.filter(user=user)
    if organization is not None:
        memberships = memberships.filter(organization=organization)
    return str(memberships.get().public_id)


def update_connections(rows: QuerySet[Connection], **fields: object) -> int:
    """A test's raw UPDATE of connections (a state no service sets directly), with the
    connection counters recounted after it: the services keep them in step, so a test that
    writes past the services must too."""
    from connections import counters

    updated = rows.update(**fields)
    counters.recount()
    return updated


def enter_needs_reauth(
    connection: Connection, *, days_ago: int = 0, via_health: bool = False
) -> None:
    """The connection enters needs_reauth through the services (a status change, or a health
    check the provider refused), its audit entry dated ``days_ago`` days back, then goes back
    to active: what the overview's needs-reauth trend counts."""
    from datetime import timedelta

    from django.utils import timezone

    from connections.models import Health, Status
    from connections.services.connections import connection_set_status
    from connections.services.health import HealthResult, health_result_record
    from projects.models import AuditEntry

    actor = Actor.system()
    if via_health:
        health_result_record(
            actor=actor,
            connection=connection,
            result=HealthResult(Health.NEEDS_REAUTH, timezone.now(), "401 from the provider"),
        )
    else:
        connection_set_status(actor=actor, connection=connection, status=Status.NEEDS_REAUTH)
    entry = AuditEntry.objects.filter(target_id=str(connection.pk)).latest("id")
    assert entry.after is not None and entry.after["status"] == Status.NEEDS_REAUTH
    AuditEntry.objects.filter(pk=entry.pk).update(
        created_at=timezone.now() - timedelta(days=days_ago)
    )
    connection_set_status(actor=actor, connection=connection, status=Status.ACTIVE)
