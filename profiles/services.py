"""Writes on connector profiles: create, pin, setup fields, default flag. Every one is audited.

Publishing a connector version moves what profiles resolve to, so the publishing entry points
live here too (``connector_version_push``, ``connector_version_publish``): they call the
connectors app's steps and announce every profile that moved, in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db import connection as db

from connectors import services as publishing
from connectors.builtin_loader import builtin_version_dirs, version_files
from connectors.definition import parse_definition
from connectors.models import Connector, ConnectorVersion
from connectors.selectors import connectors_for_project
from connectors.services import PushResult, lock_connector
from core.validation import text_problem
from events.services import event_record
from projects.crypto import decrypt_json, encrypt_json, mask
from projects.models import Project
from projects.services import Actor, ConflictError, ServiceError, audit_record

from .models import ConnectorProfile, ServingTally
from .pins import Pin, PinError, parse_pin
from .resolution import Resolved, describe, published_numbers, resolve_uncached
from .selectors import profiles_resolving_to, stored_pin


def _checked_pin(
    project: Project, connector: Connector, pin_text: str | None
) -> tuple[Pin, Resolved]:
    """Parse the pin and make sure it matches a published version now (400 otherwise).

    Called inside the caller's transaction with the connector locked, so a concurrent delete
    cannot remove the version between this check and the commit."""
    lock_connector(connector.pk)
    try:
        pin = parse_pin(pin_text)
    except PinError as exc:
        raise ServiceError(exc.message, field="pinned_version") from exc
    resolved = resolve_uncached(project, connector.pk, pin)
    if resolved is None:
        raise ServiceError(
            f"The pin “{pin.text or 'default'}” matches no published version of "
            f"{connector.key}. Published: {describe(published_numbers(project, connector.pk))}.",
            field="pinned_version",
        )
    return pin, resolved


def _state(profile: ConnectorProfile, resolved: Resolved | None = None) -> dict[str, Any]:
    state: dict[str, Any] = {
        "name": profile.name,
        # Profiles of different connectors share names ("production"): the feed says whose
        # (the shared connector row's title; a custom connector's is its key).
        "connector": profile.connector.title or profile.connector.key,
        "pin": profile.pin,
        "is_default": profile.is_default,
    }
    if resolved is not None:
        state["resolved"] = resolved.version
    return state


NAME_MAX_CHARS = 100  # ConnectorProfile.name


def _checked_name(name: str) -> str:
    """The name, stripped; ServiceError when it is empty, too long (never cut) or holds a
    control or bidi character."""
    name = name.strip()
    if not name:
        raise ServiceError("Give the profile a name.", field="name")
    problem = text_problem(name, max_length=NAME_MAX_CHARS)
    if problem is not None:
        raise ServiceError(f"The name {problem}.", field="name")
    return name


def _set_default(profile: ConnectorProfile) -> None:
    ConnectorProfile.objects.filter(
        project_id=profile.project_id, connector_id=profile.connector_id, is_default=True
    ).exclude(pk=profile.pk).update(is_default=False)


@transaction.atomic
def profile_create(
    *,
    actor: Actor,
    project: Project,
    connector_key: str,
    name: str,
    pin: str | None = None,
    is_default: bool = False,
) -> ConnectorProfile:
    name = _checked_name(name)
    connector = connectors_for_project(project).filter(key=connector_key).first()
    if connector is None:
        raise ServiceError(
            f"No connector “{connector_key}” is available to this project.", field="connector_key"
        )
    parsed, resolved = _checked_pin(project, connector, pin)
    first = not ConnectorProfile.objects.filter(project=project, connector=connector).exists()
    profile = ConnectorProfile(
        project=project,
        connector=connector,
        name=name,
        pin=parsed.text,
        is_default=is_default or first,  # the first profile of a connector is its default
    )
    if profile.is_default:
        _set_default(profile)
    try:
        with transaction.atomic():
            profile.save()
    except IntegrityError as exc:
        raise ConflictError(
            f"A profile named “{name}” exists already for {connector.key}.", field="name"
        ) from exc
    audit_record(
        actor=actor,
        organization=project.organization,
        project=project,
        action="profile.created",
        target=profile,
        after=_state(profile, resolved),
    )
    return profile


@dataclass(frozen=True)
class PinWrite:
    """A pin written by ``profile_pin_write``, for its audit entry (``profile_pin_audit``)."""

    profile: ConnectorProfile
    changed: bool  # False: the pin was the same; nothing was written
    before: dict[str, Any]
    after: dict[str, Any]
    moved: bool  # the profile resolves to another version now: its connections moved


def profile_pin_write(*, profile: ConnectorProfile, pin: str | None) -> PinWrite:
    """Set (or with None remove) the pin, inside the caller's transaction: a pin that matches
    nothing is refused; a move of the resolution is announced.

    The entry point is ``connections.services.pins.profile_set_pin``: it counts the
    connections the change moves for the audit entry (``profile_pin_audit``)."""
    profile = (
        ConnectorProfile.objects.select_for_update(of=("self",))
        .select_related("project", "connector")
        .get(pk=profile.pk)
    )
    if profile.rollout_key is not None:
        raise ConflictError(
            f"A staged rollout is in progress on {profile.name}: promote it (its target pin "
            "becomes the pin) or roll it back before changing the pin.",
            field="pinned_version",
        )
    current = resolve_uncached(profile.project, profile.connector_id, parse_pin(profile.pin))
    before = _state(profile, current)
    parsed, resolved = _checked_pin(profile.project, profile.connector, pin)
    if parsed.text == profile.pin:
        return PinWrite(profile, False, before, before, False)
    profile.pin = parsed.text
    profile.save(update_fields=["pin", "updated_at"])
    previous = before.get("resolved")
    if previous != resolved.version:
        announce_resolution(profile, previous, resolved, "pin_change")
    moved = current is None or current.id != resolved.id
    return PinWrite(profile, True, before, _state(profile, resolved), moved)


def profile_pin_audit(*, actor: Actor, written: PinWrite, connections_moved: int) -> None:
    """The audit entry of a pin change, with how many connections it moved to another
    version (the API audits it too)."""
    profile = written.profile
    audit_record(
        actor=actor,
        organization=profile.project.organization,
        project=profile.project,
        action="profile.pin_changed" if profile.pin else "profile.pin_removed",
        target=profile,
        before=written.before,
        after={**written.after, "connections_moved": connections_moved},
    )


@transaction.atomic
def profile_make_default(*, actor: Actor, profile: ConnectorProfile) -> ConnectorProfile:
    """Make ``profile`` its connector's default in the project: connect sessions opened for
    the connector (not for a profile) land on it from now on."""
    profile = (
        ConnectorProfile.objects.select_for_update(of=("self",))
        .select_related("project")
        .get(pk=profile.pk)
    )
    if profile.is_default:
        return profile
    _set_default(profile)
    profile.is_default = True
    profile.save(update_fields=["is_default", "updated_at"])
    audit_record(
        actor=actor,
        organization=profile.project.organization,
        project=profile.project,
        action="profile.updated",
        target=profile,
        before={"is_default": False},
        after={"is_default": True},
    )
    return profile


def setup_fields(version: ConnectorVersion) -> list[dict[str, Any]]:
    fields = version.authentication.get("setupFields") or []
    return [f for f in fields if isinstance(f, dict) and isinstance(f.get("key"), str)]


def secret_keys_set(profile: ConnectorProfile) -> dict[str, str]:
    """The secret setup fields that have a value, masked (never the values themselves)."""
    return {key: mask(value) for key, value in decrypt_json(profile.setup_secrets).items() if value}


@transaction.atomic
def profile_update(
    *,
    actor: Actor,
    profile: ConnectorProfile,
    version: ConnectorVersion,
    name: str,
    is_default: bool,
    values: dict[str, str],
) -> ConnectorProfile:
    """Save name, default flag and setup fields of ``version``'s definition.

    Secret fields are write-only: an empty input keeps the stored value ("replace", never
    "reveal"). Audit entries name the changed fields, never their values.
    """
    profile = (
        ConnectorProfile.objects.select_for_update(of=("self",))
        .select_related("project")
        .get(pk=profile.pk)
    )
    name = _checked_name(name)
    plain = dict(profile.setup_values)
    secrets = decrypt_json(profile.setup_secrets)
    changed: list[str] = []
    for field in setup_fields(version):
        key = field["key"]
        value = values.get(key, "").strip()
        if field.get("secret"):
            if value and value != secrets.get(key):
                secrets[key] = value
                changed.append(key)
        elif value != plain.get(key, ""):
            plain[key] = value
            changed.append(key)
    before = {"name": profile.name, "is_default": profile.is_default}
    profile.name = name
    profile.setup_values = plain
    profile.setup_secrets = encrypt_json(secrets) if secrets else ""
    if is_default and not profile.is_default:
        _set_default(profile)
    profile.is_default = is_default or profile.is_default
    try:
        with transaction.atomic():
            profile.save()
    except IntegrityError as exc:
        raise ConflictError(f"A profile named “{name}” exists already.", field="name") from exc
    audit_record(
        actor=actor,
        organization=profile.project.organization,
        project=profile.project,
        action="profile.updated",
        target=profile,
        before=before,
        after={"name": profile.name, "is_default": profile.is_default, "fields_changed": changed},
    )
    return profile


def version_in_use_refusal(version: ConnectorVersion) -> None:
    """Before a published version is deleted (``connections.services.versions``): one that a
    profile resolves to right now stays (409)."""
    subscribers = profiles_resolving_to(version)
    if subscribers:
        names = ", ".join(sorted(p.name for p in subscribers))
        raise ConflictError(
            f"Version {version.version} is in use: the profiles {names} resolve to it. "
            "Pin them elsewhere first."
        )


# --- Resolution moves (profile.resolution_changed) -----------------------------------------------


def announce_resolution(
    profile: ConnectorProfile, previous: str | None, resolved: Resolved | None, cause: str
) -> None:
    event_record(
        project=profile.project,
        type="profile.resolution_changed",
        data={
            "profile_id": str(profile.public_id),
            "connector_key": profile.connector.key,
            "from_version": previous,
            "to_version": resolved.version if resolved else None,
            "to_builtin": resolved.builtin if resolved else None,
            "cause": cause,
        },
    )


@dataclass(frozen=True)
class Resolutions:
    """The resolution of every profile a write to a connector's versions can move, taken
    before the write (``resolutions_before``) to compare with after it
    (``resolutions_announce``)."""

    connector_id: int
    project: Project | None  # the written version's owner; None: built-in (every project)
    profiles: list[ConnectorProfile]
    before: dict[tuple[int, str | None], Resolved | None]


def _resolutions(
    connector_id: int, profiles: list[ConnectorProfile]
) -> dict[tuple[int, str | None], Resolved | None]:
    """One resolution per distinct (project, pin): many profiles with the same pin cost one."""
    found: dict[tuple[int, str | None], Resolved | None] = {}
    for row in profiles:
        pair = (row.project_id, row.pin)
        if pair not in found:
            found[pair] = resolve_uncached(row.project, connector_id, stored_pin(row))
    return found


def resolutions_before(*, connector_id: int, project: Project | None) -> Resolutions:
    """What every profile a version of ``project`` (None: built-in, every project) can move
    resolves to now (inside the write's transaction, the connector locked)."""
    profiles = ConnectorProfile.objects.filter(connector_id=connector_id).select_related(
        "project", "connector"
    )
    if project is not None:
        profiles = profiles.filter(project=project)
    rows = list(profiles)
    return Resolutions(connector_id, project, rows, _resolutions(connector_id, rows))


def resolutions_announce(watched: Resolutions, *, cause: str, version: str) -> None:
    """After the write (same transaction): resolve the watched profiles again and announce
    each move. An overwrite keeps the number but replaces what it serves: the profiles
    resolving to the overwritten ``version`` are announced too (from and to the same number)."""
    after = _resolutions(watched.connector_id, watched.profiles)
    for row in watched.profiles:
        if row.rollout_key is not None:
            continue  # a staged rollout serves its two versions whatever is published
        pair = (row.project_id, row.pin)
        old, new = watched.before[pair], after[pair]
        moved = (old.id if old else None) != (new.id if new else None)
        replaced = (
            cause == "overwrite"
            and new is not None
            and new.version == version
            and new.builtin == (watched.project is None)
        )
        if moved or replaced:
            announce_resolution(row, old.version if old else None, new, cause)


# --- Publishing: the connectors app's writes with the resolution moves they cause ----------------


def connector_version_push(
    *,
    actor: Actor,
    project: Project | None,
    files: Sequence[tuple[str, bytes]],
    force: bool = False,
    draft: bool = False,
    acknowledge_breaking: bool = False,
    description: str = "",
) -> PushResult:
    """Publish (or save as draft) the version in ``files``; ``project=None`` is built-in.
    Every profile it moves is announced (``profile.resolution_changed``).

    Raises DefinitionError (400/413), ConflictError (409) or RefusedError (422).
    """
    parsed = parse_definition(files)
    with publishing.push_transaction(parsed):
        target = publishing.push_target(project=project, parsed=parsed, force=force, draft=draft)
        watched = (
            None if draft else resolutions_before(connector_id=target.connector.pk, project=project)
        )
        result = publishing.push_write(
            actor=actor,
            project=project,
            parsed=parsed,
            target=target,
            draft=draft,
            acknowledge_breaking=acknowledge_breaking,
            description=description,
        )
        if watched is not None:
            cause = "overwrite" if result.overwritten else "publish"
            resolutions_announce(watched, cause=cause, version=parsed.version)
        return result


@transaction.atomic
def connector_version_publish(
    *, actor: Actor, version: ConnectorVersion, acknowledge_breaking: bool = False
) -> ConnectorVersion:
    """Publish a draft (same change-report rule as a push); the profiles it moves announced."""
    version = publishing.publish_target(version)
    watched = resolutions_before(connector_id=version.connector_id, project=version.project)
    version = publishing.publish_write(
        actor=actor, version=version, acknowledge_breaking=acknowledge_breaking
    )
    resolutions_announce(watched, cause="publish", version=version.version)
    return version


def builtin_connectors_load() -> int:
    """Publish each shipped built-in version (connectors/builtin/) that is not in the database
    yet; returns how many."""
    published = 0
    for directory in builtin_version_dirs():
        key, version = directory.parent.name, directory.name
        if ConnectorVersion.objects.filter(
            connector__key=key, project__isnull=True, version=version
        ).exists():
            continue
        connector_version_push(actor=Actor.system(), project=None, files=version_files(directory))
        published += 1
    return published


# --- A staged rollout's tallies (profiles.serving) --------------------------------------------


def serving_count(*, profile: ConnectorProfile, version_id: int, error: bool) -> None:
    """One more request served by ``version_id`` (an action or a health check) on a profile in
    a staged rollout, an error or not: one upsert on the rollout window's tally (nothing
    without a rollout). Concurrent writers never lose a count (``ON CONFLICT DO UPDATE``)."""
    if profile.rollout_key is None:
        return
    key = profile.rollout_key
    table = db.ops.quote_name(ServingTally._meta.db_table)
    with db.cursor() as cursor:
        cursor.execute(  # the table's own name and placeholders only: no input in the SQL
            f"INSERT INTO {table} AS t "  # noqa: S608
            "(profile_id, rollout_key, gate_window, version_pk, requests, errors) "
            "VALUES (%s, %s, %s, %s, 1, %s) "
            "ON CONFLICT (rollout_key, gate_window, version_pk) "
            "DO UPDATE SET requests = t.requests + 1, errors = t.errors + excluded.errors",
            [
                profile.pk,
                key if db.vendor == "postgresql" else key.hex,
                profile.rollout_window,
                version_id,
                int(error),
            ],
        )
