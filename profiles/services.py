"""Writes on connector profiles: create, pin, setup fields, default flag. Every one is audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.db import connection as db

from connectors.models import Connector, ConnectorVersion
from connectors.selectors import connectors_for_project
from connectors.services import lock_connector
from core.validation import text_problem
from events.services import event_record
from projects.crypto import decrypt_json, encrypt_json, mask
from projects.models import Project
from projects.services import Actor, ConflictError, ServiceError, audit_record

from .models import ConnectorProfile, ServingTally
from .pins import Pin, PinError, parse_pin
from .resolution import Resolved, describe, published_numbers, resolve_uncached
from .selectors import connections_on, profiles_resolving_to, stored_pin


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


@transaction.atomic
def profile_set_pin(
    *, actor: Actor, profile: ConnectorProfile, pin: str | None
) -> ConnectorProfile:
    """Set (or with None remove) the pin; a pin that matches nothing is refused."""
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
        return profile
    profile.pin = parsed.text
    profile.save(update_fields=["pin", "updated_at"])
    previous = before.get("resolved")
    if previous != resolved.version:
        announce_resolution(profile, previous, resolved, "pin_change")
    after = _state(profile, resolved)
    # How many connections the change moved to another version (the API audits it too).
    moved = current is None or current.id != resolved.id
    after["connections_moved"] = connections_on(profile) if moved else 0
    audit_record(
        actor=actor,
        organization=profile.project.organization,
        project=profile.project,
        action="profile.pin_changed" if parsed.text else "profile.pin_removed",
        target=profile,
        before=before,
        after=after,
    )
    return profile


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


def refuse_deleting_resolved_version(*, version: ConnectorVersion, **_: Any) -> None:
    """A receiver of ``connectors.signals.version_deleting``: a published version that a
    profile resolves to right now stays."""
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


def watch_resolutions(
    *,
    connector_id: int,
    project: Project | None,
    cause: str,
    version: str | None = None,
    **_: Any,
) -> Callable[[], None]:
    """A receiver of ``connectors.signals.resolutions_changing``: the resolution of every
    profile a version of ``project`` (None: built-in, every project) can move, now; the
    returned callable resolves them again after the write and announces each move. One
    resolution per distinct (project, pin), so many profiles with the same pin cost one.
    An overwrite keeps the number but replaces what it serves: the profiles resolving to
    the overwritten ``version`` are announced too (from and to the same number)."""
    profiles = ConnectorProfile.objects.filter(connector_id=connector_id).select_related(
        "project", "connector"
    )
    if project is not None:
        profiles = profiles.filter(project=project)
    rows = list(profiles)

    def resolutions() -> dict[tuple[int, str | None], Resolved | None]:
        found: dict[tuple[int, str | None], Resolved | None] = {}
        for row in rows:
            pair = (row.project_id, row.pin)
            if pair not in found:
                found[pair] = resolve_uncached(row.project, connector_id, stored_pin(row))
        return found

    before = resolutions()

    def finish() -> None:
        after = resolutions()
        for row in rows:
            if row.rollout_key is not None:
                continue  # a staged rollout serves its two versions whatever is published
            old, new = before[(row.project_id, row.pin)], after[(row.project_id, row.pin)]
            moved = (old.id if old else None) != (new.id if new else None)
            replaced = (
                cause == "overwrite"
                and new is not None
                and new.version == version
                and new.builtin == (project is None)
            )
            if moved or replaced:
                announce_resolution(row, old.version if old else None, new, cause)

    return finish


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
