"""The Django admin for support staff: every model, useful lists, view-only support, no secrets."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db.models import Model
from django.test import Client
from django.urls import reverse

from connectors.models import Connector, ConnectorVersion
from profiles.models import ConnectorProfile
from profiles.services import connector_version_push, profile_create
from projects.models import ApiKey, AuditEntry, Membership, Organization, Project, Team
from projects.services import Actor
from projects.support import ensure_support_group
from tests.conftest import Tenancy
from tests.factories import connector_yaml, make_api_key, make_team, make_user

MODELS: list[type[Model]] = [
    Organization,
    Membership,
    Team,
    Project,
    ApiKey,
    AuditEntry,
    Connector,
    ConnectorVersion,
    ConnectorProfile,
]


@pytest.fixture
def data(tenancy: Tenancy) -> dict:
    api_key, raw = make_api_key(tenancy.project)
    team = make_team(tenancy.organization, "Support", tenancy.users["member"])
    connector_version_push(
        actor=Actor.system(), project=tenancy.project, files=[("c.yaml", connector_yaml())]
    )
    profile_create(
        actor=Actor.system(), project=tenancy.project, connector_key="acme_crm", name="acme prod"
    )
    return {"api_key": api_key, "raw": raw, "team": team}


@pytest.fixture
def superuser_client(db: None) -> Client:
    client = Client()
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def support_client(db: None) -> Client:
    user = make_user("helpdesk", is_staff=True)
    user.groups.add(ensure_support_group())
    client = Client()
    client.force_login(user)
    return client


def test_every_model_is_registered() -> None:
    for model in MODELS:
        assert admin.site.is_registered(model), model


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_changelists_search_and_change_pages_load(
    superuser_client: Client, data: dict, model: type[Model]
) -> None:
    info = model._meta.app_label, model._meta.model_name
    changelist = reverse("admin:{}_{}_changelist".format(*info))
    assert superuser_client.get(changelist).status_code == 200
    assert superuser_client.get(changelist, {"q": "acme"}).status_code == 200
    obj = model._default_manager.first()
    assert obj is not None
    assert (
        superuser_client.get(reverse("admin:{}_{}_change".format(*info), args=[obj.pk])).status_code
        == 200
    )


def test_support_group_views_but_never_changes(
    support_client: Client, data: dict, tenancy: Tenancy
) -> None:
    project_url = reverse("admin:projects_project_change", args=[tenancy.project.pk])
    page = support_client.get(project_url)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    response = support_client.post(
        project_url, {"name": "hacked", "slug": "hacked", "organization": tenancy.organization.pk}
    )
    assert response.status_code == 403
    tenancy.project.refresh_from_db()
    assert tenancy.project.name != "hacked"
    assert support_client.get(reverse("admin:projects_project_add")).status_code == 403
    assert (
        support_client.get(
            reverse("admin:projects_project_delete", args=[tenancy.project.pk])
        ).status_code
        == 403
    )


def test_api_key_secret_and_hash_never_shown(superuser_client: Client, data: dict) -> None:
    api_key = data["api_key"]
    for url in [
        reverse("admin:projects_apikey_changelist"),
        reverse("admin:projects_apikey_change", args=[api_key.pk]),
        reverse("admin:projects_auditentry_changelist"),
    ]:
        content = superuser_client.get(url).content.decode()
        assert api_key.prefix in content
        assert data["raw"] not in content
        assert api_key.key_hash not in content


def test_even_a_superuser_cannot_bypass_the_services(
    superuser_client: Client, tenancy: Tenancy
) -> None:
    """The last owner stays, the Danger Zone needs its confirmation: no admin edits or deletes."""
    owner = Membership.objects.get(user=tenancy.users["owner"])
    url = reverse("admin:projects_membership_change", args=[owner.pk])
    response = superuser_client.post(
        url, {"organization": tenancy.organization.pk, "user": owner.user_id, "role": "viewer"}
    )
    assert response.status_code == 403
    owner.refresh_from_db()
    assert owner.role == "owner"
    project_url = reverse("admin:projects_project_delete", args=[tenancy.project.pk])
    assert superuser_client.post(project_url, {"post": "yes"}).status_code == 403
    assert Project.objects.filter(pk=tenancy.project.pk).exists()
