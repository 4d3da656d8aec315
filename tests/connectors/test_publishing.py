"""Publishing rules: immutability × force × draft/published × new/existing, change report, audit."""

from __future__ import annotations

from typing import Any

import pytest

from connections.services.versions import connector_version_delete
from connectors.definition import DefinitionError
from connectors.models import ConnectorVersion
from profiles.services import connector_version_publish, connector_version_push
from projects.models import AuditEntry, Project
from projects.services import Actor, ConflictError, RefusedError
from tests.factories import connector_yaml, make_project

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


def push(project: Project | None, content: bytes, **flags: Any) -> Any:
    return connector_version_push(
        actor=SYSTEM, project=project, files=[("c.yaml", content)], **flags
    )


@pytest.fixture
def project() -> Project:
    return make_project()


def rows(project: Project | None = None) -> list[tuple[str, bool]]:
    qs = ConnectorVersion.objects.filter(project=project).order_by("version_key")
    return [(v.version, v.is_draft) for v in qs]


# --- The immutability table --------------------------------------------------------------------

V1 = connector_yaml(version="1.0.0")
V1_EDITED = connector_yaml(version="1.0.0", description="Edited wording.")


@pytest.mark.parametrize("immutable", [True, False])
@pytest.mark.parametrize("force", [True, False])
@pytest.mark.parametrize("draft", [True, False])
def test_new_version_is_created_whatever_the_flags(
    project: Project, immutable: bool, force: bool, draft: bool
) -> None:
    Project.objects.filter(pk=project.pk).update(immutable_versioning=immutable)
    project.refresh_from_db()
    result = push(project, V1, force=force, draft=draft)
    assert result.created and not result.overwritten
    assert rows(project) == [("1.0.0", draft)]


@pytest.mark.parametrize("immutable", [True, False])
@pytest.mark.parametrize("force", [True, False])
@pytest.mark.parametrize("draft", [True, False])
def test_existing_draft_is_replaced_freely(
    project: Project, immutable: bool, force: bool, draft: bool
) -> None:
    Project.objects.filter(pk=project.pk).update(immutable_versioning=immutable)
    project.refresh_from_db()
    first = push(project, V1, draft=True).version
    result = push(project, V1_EDITED, force=force, draft=draft)
    assert not result.created and not result.overwritten
    assert result.version.pk == first.pk
    assert result.version.definition["info"]["description"] == "Edited wording."
    assert rows(project) == [("1.0.0", draft)]


@pytest.mark.parametrize(
    ("immutable", "force", "outcome"),
    [
        (True, False, "409"),
        (True, True, "409"),
        (False, False, "409-use-force"),
        (False, True, "overwritten"),
    ],
)
def test_existing_published_version(
    project: Project, immutable: bool, force: bool, outcome: str
) -> None:
    Project.objects.filter(pk=project.pk).update(immutable_versioning=immutable)
    project.refresh_from_db()
    original = push(project, V1).version
    before = original.updated_at
    if outcome.startswith("409"):
        with pytest.raises(ConflictError) as refused:
            push(project, V1_EDITED, force=force)
        if outcome == "409-use-force":
            assert "force" in refused.value.message
        else:
            assert "immutable versioning is on" in refused.value.message
        original.refresh_from_db()
        assert original.definition["info"]["description"] == "Contacts and deals."
    else:
        result = push(project, V1_EDITED, force=True)
        assert result.overwritten and not result.created
        assert result.version.pk == original.pk
        assert result.version.updated_at > before
        assert result.version.definition["info"]["description"] == "Edited wording."
        assert AuditEntry.objects.filter(action="connector_version.overwritten").count() == 1
    assert ConnectorVersion.objects.count() == 1


@pytest.mark.parametrize("force", [True, False])
def test_published_version_cannot_become_a_draft(project: Project, force: bool) -> None:
    Project.objects.filter(pk=project.pk).update(immutable_versioning=False)
    project.refresh_from_db()
    push(project, V1)
    with pytest.raises(ConflictError, match="cannot become a draft"):
        push(project, V1_EDITED, draft=True, force=force)


@pytest.mark.parametrize("force", [True, False])
def test_builtin_versions_are_always_immutable(force: bool) -> None:
    push(None, V1)
    with pytest.raises(ConflictError, match="built-in versions are immutable"):
        push(None, V1_EDITED, force=force)


def test_custom_and_builtin_may_share_a_number(project: Project) -> None:
    push(None, V1)
    push(project, V1)
    push(make_project(), V1)
    assert ConnectorVersion.objects.filter(version="1.0.0").count() == 3


# --- Change report -----------------------------------------------------------------------------


def test_report_compares_with_the_highest_lower_version_of_the_same_owner(project: Project) -> None:
    push(None, connector_yaml(version="1.0.0"))
    push(None, connector_yaml(version="1.1.0", actions=("list_contacts", "list_deals")))
    custom = push(project, connector_yaml(version="1.0.5")).version
    assert custom.change_level == "initial"  # the built-ins are another owner
    builtin = push(
        None, connector_yaml(version="1.2.0", actions=("list_contacts", "list_deals", "x"))
    ).version
    assert builtin.change_report["previous_version"] == "1.1.0"
    assert builtin.change_level == "minor"


def test_breaking_change_in_a_minor_bump_is_refused_unless_acknowledged(project: Project) -> None:
    push(project, connector_yaml(version="1.0.0", actions=("list_contacts", "list_deals")))
    with pytest.raises(RefusedError) as refused:
        push(project, connector_yaml(version="1.1.0", actions=("list_contacts",)))
    assert refused.value.status == 422
    assert "major" in refused.value.message
    assert rows(project) == [("1.0.0", False)]
    acknowledged = push(
        project,
        connector_yaml(version="1.1.0", actions=("list_contacts",)),
        acknowledge_breaking=True,
    ).version
    assert acknowledged.change_level == "major"
    assert any(
        m["severity"] == "warning" and "acknowledged" in m["text"] for m in acknowledged.messages
    )


def test_major_bump_with_an_auth_change_flags_reauthentication(project: Project) -> None:
    push(project, connector_yaml(version="1.0.0"))
    v2 = push(
        project, connector_yaml(version="2.0.0", required_fields=("api_key", "region"))
    ).version
    assert v2.change_level == "major" and v2.reauth_required
    assert any("re-authenticate" in m["text"] for m in v2.messages)


def test_a_draft_may_hold_a_breaking_change_but_publishing_it_checks(project: Project) -> None:
    push(project, connector_yaml(version="1.0.0", actions=("a", "b")))
    draft = push(project, connector_yaml(version="1.0.1", actions=("a",)), draft=True).version
    with pytest.raises(RefusedError):
        connector_version_publish(actor=SYSTEM, version=draft)
    published = connector_version_publish(actor=SYSTEM, version=draft, acknowledge_breaking=True)
    assert published.published_at is not None
    with pytest.raises(ConflictError, match="already published"):
        connector_version_publish(actor=SYSTEM, version=published)


# --- Delete ------------------------------------------------------------------------------------


def test_delete_rules(project: Project) -> None:
    draft = push(project, connector_yaml(version="0.9.0"), draft=True).version
    connector_version_delete(actor=SYSTEM, version=draft)
    published = push(project, V1).version
    with pytest.raises(ConflictError, match="immutable versioning is on"):
        connector_version_delete(actor=SYSTEM, version=published)
    Project.objects.filter(pk=project.pk).update(immutable_versioning=False)
    published.refresh_from_db()
    connector_version_delete(actor=SYSTEM, version=published)
    builtin = push(None, V1).version
    with pytest.raises(ConflictError, match="Built-in"):
        connector_version_delete(actor=SYSTEM, version=builtin)
    assert list(ConnectorVersion.objects.values_list("project", flat=True)) == [None]
    assert AuditEntry.objects.filter(action="connector_version.deleted").count() == 2


# --- Bad input stores nothing ------------------------------------------------------------------


def test_invalid_definition_stores_nothing(project: Project) -> None:
    with pytest.raises(DefinitionError):
        push(project, b"info: {title: x, key: Bad-Key, version: 1.0}\n")
    assert not ConnectorVersion.objects.exists()
    assert not AuditEntry.objects.exists()


def test_database_sorts_by_semver_precedence(project: Project) -> None:
    numbers = [
        "1.0.0",
        "1.0.0-rc.1",
        "1.10.0",
        "1.2.0",
        "1.0.0-alpha",
        "1.0.0-alpha.10",
        "1.0.0-alpha.9",
    ]
    for n in numbers:
        push(project, connector_yaml(version=n), draft=True)
    stored = list(
        ConnectorVersion.objects.order_by("-version_key").values_list("version", flat=True)
    )
    assert stored == [
        "1.10.0",
        "1.2.0",
        "1.0.0",
        "1.0.0-rc.1",
        "1.0.0-alpha.10",
        "1.0.0-alpha.9",
        "1.0.0-alpha",
    ]
