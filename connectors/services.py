"""Publishing connector versions: the immutability rules, the change report, concurrency.

A push, a publish and a delete can move what profiles resolve to, and a delete changes the
connection counts: the apps above own those consequences, so the entry points that
interfaces call live there and call down into the steps here, in one transaction:
``profiles.services.connector_version_push`` / ``connector_version_publish`` (push_target →
push_write, publish_target → publish_write, the profiles' resolution moves announced around
them) and ``connections.services.versions.connector_version_delete`` (delete_target →
delete_write, with the profiles' refusal and the counters' move before it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from events.services import event_record
from projects.models import Project
from projects.services import Actor, ConflictError, RefusedError, audit_record

from .cache import versions_changed
from .changes import (
    ChangeReport,
    ReportLevel,
    bump_is_sufficient,
    compare_definitions,
    declared_bump,
)
from .definition import ParsedDefinition, parse_definition
from .models import Connector, ConnectorVersion
from .versioning import version_key


@dataclass(frozen=True)
class PushResult:
    version: ConnectorVersion
    created: bool  # a new row; False when a draft was replaced or a version overwritten
    overwritten: bool  # a published version's content was replaced (immutability off + force)


@dataclass(frozen=True)
class PushPreview:
    """What a push would do, computed without writing anything (the upload preview)."""

    parsed: ParsedDefinition
    report: ChangeReport
    declared: str
    bump_ok: bool
    existing: ConnectorVersion | None
    conflict: str | None  # why publishing would be refused, if it would


def lock_connector(connector_id: int) -> None:
    """Row lock on the connector until the transaction ends (serializes its version writes)."""
    Connector.objects.select_for_update().filter(pk=connector_id).values_list("pk").first()


def _announce_published(version: ConnectorVersion, *, overwritten: bool = False) -> None:
    """``version.published`` to the owning project; a built-in version to every project with
    a profile of the connector."""
    data = {
        "connector_key": version.connector.key,
        "version": version.version,
        "builtin": version.project_id is None,
        "owner": version.owner,
        "change_level": version.change_level,
        "overwritten": overwritten,
    }
    if version.project is not None:
        event_record(project=version.project, type="version.published", data=data)
        return
    for project in Project.objects.filter(profiles__connector_id=version.connector_id).distinct():
        event_record(project=project, type="version.published", data=data)


def _owner_filter(project: Project | None) -> dict[str, Any]:
    return {"project__isnull": True} if project is None else {"project": project}


def predecessor(
    connector: Connector | None, project: Project | None, version: str
) -> ConnectorVersion | None:
    """The highest published release below ``version`` of the same owner (built-in or custom)."""
    if connector is None:
        return None
    return (
        ConnectorVersion.objects.filter(
            connector=connector,
            published_at__isnull=False,
            is_prerelease=False,
            version_key__lt=version_key(version),
            **_owner_filter(project),
        )
        .order_by("-version_key")
        .first()
    )


def _report(
    connector: Connector | None, project: Project | None, number: str, definition: dict[str, Any]
) -> tuple[ChangeReport, ReportLevel]:
    """The change report against the predecessor, and the bump the number declares."""
    previous = predecessor(connector, project, number)
    report = compare_definitions(
        previous.definition if previous else None,
        definition,
        previous_version=previous.version if previous else None,
    )
    return report, declared_bump(report.previous_version, number)


def _classify(
    version: ConnectorVersion, *, publishing: bool, acknowledge_breaking: bool
) -> tuple[ChangeReport, ReportLevel]:
    """Store the change report on ``version``; publishing an unacknowledged breaking change in
    a non-major bump is refused (422)."""
    report, declared = _report(
        version.connector, version.project, version.version, version.definition
    )
    if publishing and not acknowledge_breaking and not bump_is_sufficient(declared, report.level):
        raise RefusedError(_breaking_refusal(report, declared), field="info.version")
    version.change_level = report.level
    version.change_report = report.to_json()
    version.reauth_required = report.reauth_required
    version.messages = _messages(report, declared=declared, acknowledged=acknowledge_breaking)
    return report, declared


def _messages(
    report: ChangeReport, *, declared: ReportLevel, acknowledged: bool
) -> list[dict[str, Any]]:
    messages = report.as_messages()
    if not bump_is_sufficient(declared, report.level):
        text = (
            f"Released as a {declared} version, but the changes require a {report.level} "
            f"release (profiles on {report.previous_version or '?'}'s major line will move to it)."
        )
        if acknowledged:
            text += " The breaking change was acknowledged by the publisher."
        messages.append({"text": text, "severity": "warning", "detail": []})
    return messages


def _overwrite_refusal(
    version: ConnectorVersion, project: Project | None, *, force: bool
) -> str | None:
    """Why a published version may not be replaced, or None when it may (force + mutable)."""
    if project is None:
        return (
            f"Built-in version {version.version} is published and built-in versions are immutable."
        )
    if project.immutable_versioning:
        return (
            f"Version {version.version} is already published and immutable versioning is on: "
            "publish a new version number (or turn immutability off in the Danger Zone)."
        )
    if not force:
        return (
            f"Version {version.version} is already published. Immutable versioning is off, "
            "so you may overwrite it with force."
        )
    return None


def _acknowledged(
    report: ChangeReport, declared: ReportLevel, acknowledged: bool
) -> dict[str, Any]:
    if acknowledged and not bump_is_sufficient(declared, report.level):
        return {"acknowledged_breaking": True}
    return {}


def _breaking_refusal(report: ChangeReport, declared: ReportLevel) -> str:
    places = "; ".join(c.text for c in report.changes if c.level == report.level)[:500]
    return (
        f"This is declared as a {declared} release of {report.previous_version}, but the changes "
        f"are {report.level}: {places}. Publish it as a new major version, or acknowledge the "
        "breaking change explicitly."
    )


def connector_version_preview(
    *, project: Project | None, files: Sequence[tuple[str, bytes]], force: bool = False
) -> PushPreview:
    """Parse, validate and classify without storing anything. Raises DefinitionError."""
    parsed = parse_definition(files)
    connector = Connector.objects.filter(key=parsed.key).first()
    report, declared = _report(connector, project, parsed.version, parsed.definition)
    existing = (
        ConnectorVersion.objects.filter(
            connector=connector, version=parsed.version, **_owner_filter(project)
        ).first()
        if connector
        else None
    )
    conflict = None
    if existing is not None and not existing.is_draft:
        conflict = _overwrite_refusal(existing, project, force=force)
    return PushPreview(
        parsed=parsed,
        report=report,
        declared=declared,
        bump_ok=bump_is_sufficient(declared, report.level),
        existing=existing,
        conflict=conflict,
    )


@contextmanager
def push_transaction(parsed: ParsedDefinition) -> Iterator[None]:
    """The transaction of a push (``profiles.services.connector_version_push``): a concurrent
    push that created the same (connector, owner, version) first becomes a 409."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        # Another request created the same (connector, owner, version) between our read and
        # our insert; the unique constraint kept exactly one row.
        raise ConflictError(
            f"Version {parsed.version} of {parsed.key} was just created by another request."
        ) from exc


@dataclass(frozen=True)
class PushTarget:
    """What a push writes to, decided with the connector locked: its connector, the row it
    replaces (a draft, or a published version being overwritten) and whether it overwrites."""

    connector: Connector
    existing: ConnectorVersion | None
    overwritten: bool


def push_target(
    *, project: Project | None, parsed: ParsedDefinition, force: bool, draft: bool
) -> PushTarget:
    """The first step of a push (in ``push_transaction``): the connector row (created if new),
    locked until the transaction ends, and the refusals of the immutability rules (409)."""
    # The Connector row is shared by every project: only the platform's (built-in) wording goes
    # there. A project's own title, description and icon stay in its versions' definitions.
    builtin_meta = {
        "title": parsed.title,
        "description": parsed.description,
        "icon_url": parsed.icon,
    }
    connector, connector_created = Connector.objects.get_or_create(
        key=parsed.key, defaults=builtin_meta if project is None else {"title": parsed.key}
    )
    if project is None and not connector_created:
        Connector.objects.filter(pk=connector.pk).update(**builtin_meta)
    # One writer per connector at a time: the predecessor read for the change report, and the
    # subscribers checks of deletes and pin changes, must not race with another write.
    lock_connector(connector.pk)
    existing = (
        ConnectorVersion.objects.select_for_update(of=("self",))
        .filter(connector=connector, version=parsed.version, **_owner_filter(project))
        .first()
    )
    overwritten = False
    if existing is not None and not existing.is_draft:
        if draft:
            raise ConflictError(
                f"Version {parsed.version} is published; it cannot become a draft again."
            )
        refusal = _overwrite_refusal(existing, project, force=force)
        if refusal:
            raise ConflictError(refusal, field="info.version")
        overwritten = True
    return PushTarget(connector=connector, existing=existing, overwritten=overwritten)


def push_write(
    *,
    actor: Actor,
    project: Project | None,
    parsed: ParsedDefinition,
    target: PushTarget,
    draft: bool,
    acknowledge_breaking: bool,
    description: str,
) -> PushResult:
    """The second step of a push: classify (422 for an unacknowledged breaking change),
    save, announce ``version.published`` and audit."""
    existing, overwritten = target.existing, target.overwritten
    version = existing or ConnectorVersion(connector=target.connector, project=project)
    before = _audit_state(existing) if existing else None
    version.set_version(parsed.version)
    version.definition = parsed.definition
    report, declared = _classify(
        version, publishing=not draft, acknowledge_breaking=acknowledge_breaking
    )
    version.source_files = [[name, text] for name, text in parsed.source_files.items()]
    version.description = description or version.description
    if not draft and version.published_at is None:
        version.published_at = timezone.now()
    if existing is None:
        version.created_by = actor.user
        with transaction.atomic():
            version.save()
    else:
        version.save()

    if not draft:
        versions_changed(target.connector.pk)
        _announce_published(version, overwritten=overwritten)
    action = (
        "connector_version.overwritten"
        if overwritten
        else "connector_version.draft_saved"
        if draft
        else "connector_version.published"
    )
    audit_record(
        actor=actor,
        organization=project.organization if project else None,
        project=project,
        action=action,
        target=version,
        before=before,
        after=_audit_state(version, **_acknowledged(report, declared, acknowledge_breaking)),
    )
    return PushResult(version=version, created=existing is None, overwritten=overwritten)


def _audit_state(version: ConnectorVersion, **extra: Any) -> dict[str, Any]:
    digest = hashlib.sha256(json.dumps(version.definition, sort_keys=True).encode()).hexdigest()[
        :12
    ]
    return {
        "connector": version.connector.key,
        "version": version.version,
        "owner": version.owner,
        "published": version.published_at is not None,
        "change_level": version.change_level,
        "definition_sha256": digest,  # tells an overwrite's before from its after
        **extra,
    }


def publish_target(version: ConnectorVersion) -> ConnectorVersion:
    """The first step of publishing a draft (inside the caller's transaction): the connector
    locked, the draft read again and locked; 409 when it is published already."""
    lock_connector(version.connector_id)
    version = (
        ConnectorVersion.objects.select_for_update(of=("self",))
        .select_related("connector", "project")
        .get(pk=version.pk)
    )
    if not version.is_draft:
        raise ConflictError(f"Version {version.version} is already published.")
    return version


def publish_write(
    *, actor: Actor, version: ConnectorVersion, acknowledge_breaking: bool = False
) -> ConnectorVersion:
    """The second step: the change-report rule of a push, then publish, announce, audit."""
    before = _audit_state(version)
    report, declared = _classify(
        version, publishing=True, acknowledge_breaking=acknowledge_breaking
    )
    version.published_at = timezone.now()
    version.save()
    versions_changed(version.connector_id)
    _announce_published(version)
    audit_record(
        actor=actor,
        organization=version.project.organization if version.project else None,
        project=version.project,
        action="connector_version.published",
        target=version,
        before=before,
        after=_audit_state(version, **_acknowledged(report, declared, acknowledge_breaking)),
    )
    return version


def delete_target(version: ConnectorVersion) -> ConnectorVersion:
    """The first step of deleting a custom version (inside the caller's transaction): the
    connector locked, the version read again and locked; drafts always go, published ones
    only while immutability is off (409 otherwise, and for a built-in version)."""
    lock_connector(version.connector_id)
    version = (
        ConnectorVersion.objects.select_for_update(of=("self",))
        .select_related("connector", "project")
        .get(pk=version.pk)
    )
    project = version.project
    if project is None:
        raise ConflictError("Built-in versions cannot be deleted.")
    if not version.is_draft and project.immutable_versioning:
        raise ConflictError(
            f"Version {version.version} is published and immutable versioning is on; "
            "turn it off in the Danger Zone to delete published versions."
        )
    return version


def delete_write(*, actor: Actor, version: ConnectorVersion) -> None:
    """The last step: audit and delete (a published version bumps the versions generation)."""
    project = version.project
    assert project is not None  # delete_target refused a built-in version
    if not version.is_draft:
        versions_changed(version.connector_id)
    audit_record(
        actor=actor,
        organization=project.organization,
        project=project,
        action="connector_version.deleted",
        target=version,
        before=_audit_state(version),
    )
    version.delete()
