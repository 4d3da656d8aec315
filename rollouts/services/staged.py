"""Writes on staged rollouts: start, advance, pause, resume, promote, roll back, and the
gate's evaluation (the scheduler's every minute, ``manage.py rollouts_evaluate``).

Every transition runs in one transaction with the rollout and its profile locked, writes the
rollout, mirrors it into the profile's ``rollout_*`` columns (what ``profiles.serving`` reads
for every request), writes its audit entry and records its event. The connector's versions
generation moves too, so every process drops what it cached about the profile on its next
request. A promotion writes the target pin in the transaction that ends the rollout.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from connections.models import Connection
from connections.services.pins import profile_set_pin
from connectors.cache import versions_changed
from connectors.models import ConnectorVersion
from events.services import event_record
from profiles.models import ConnectorProfile
from profiles.pins import PinError, parse_pin
from profiles.resolution import Resolved, candidates, resolve_uncached
from profiles.services import announce_resolution
from profiles.serving import stable_version
from projects.services import Actor, ConflictError, ServiceError, audit_record

from .. import gate as gates
from ..models import (
    DEFAULT_STEPS,
    OnRegression,
    PauseReason,
    Rollout,
    RolloutState,
)

MAX_STEPS = 20
MAX_LISTED = 1000  # include / exclude entries
SOAK_MAX = 10080
REQUESTS_MAX = 100_000


class RolloutActive(ConflictError):
    code = "rollout_active"


class InvalidTransition(ConflictError):
    code = "invalid_transition"


@dataclass(frozen=True)
class Settings:
    """The knobs of a rollout (docs/api.md "Staged rollouts"), with their defaults."""

    steps: Sequence[int] = tuple(DEFAULT_STEPS)
    min_soak_minutes: int = 10
    min_requests: int = 20
    max_error_rate_increase: float = 0.05
    on_regression: str = OnRegression.PAUSE
    auto_advance: bool = True
    auto_promote: bool = False


def _checked_settings(knobs: Settings) -> Settings:
    steps = list(knobs.steps)
    if not steps or len(steps) > MAX_STEPS:
        raise ServiceError(f"Give 1 to {MAX_STEPS} steps, the last 100.", field="steps")
    if any(isinstance(s, bool) or not isinstance(s, int) or not 1 <= s <= 100 for s in steps):
        raise ServiceError("Each step is a whole percentage from 1 to 100.", field="steps")
    if any(b <= a for a, b in itertools.pairwise(steps)):
        raise ServiceError("Steps must rise, e.g. 5, 25, 50, 100.", field="steps")
    if steps[-1] != 100:
        raise ServiceError("The last step must be 100.", field="steps")
    if not 0 <= knobs.min_soak_minutes <= SOAK_MAX:
        raise ServiceError(f"min_soak_minutes is 0 to {SOAK_MAX}.", field="min_soak_minutes")
    if not 1 <= knobs.min_requests <= REQUESTS_MAX:
        raise ServiceError(f"min_requests is 1 to {REQUESTS_MAX:,}.", field="min_requests")
    if not 0 <= knobs.max_error_rate_increase <= 1:
        raise ServiceError("max_error_rate_increase is 0 to 1.", field="max_error_rate_increase")
    if knobs.on_regression not in OnRegression.values:
        raise ServiceError("on_regression is pause or rollback.", field="on_regression")
    return Settings(
        steps=steps,
        min_soak_minutes=knobs.min_soak_minutes,
        min_requests=knobs.min_requests,
        max_error_rate_increase=float(knobs.max_error_rate_increase),
        on_regression=knobs.on_regression,
        auto_advance=bool(knobs.auto_advance),
        auto_promote=bool(knobs.auto_promote),
    )


def _checked_connections(profile: ConnectorProfile, ids: Iterable[Any], field: str) -> list[str]:
    """Connection public ids of this profile, as strings (400 naming the first stranger)."""
    wanted: list[str] = []
    for raw in ids:
        try:
            wanted.append(str(UUID(str(raw))))
        except ValueError as exc:
            raise ServiceError(f"{str(raw)[:40]!r} is not a connection id.", field=field) from exc
    wanted = list(dict.fromkeys(wanted))
    if len(wanted) > MAX_LISTED:
        raise ServiceError(f"At most {MAX_LISTED:,} connections.", field=field)
    found = {
        str(u)
        for u in Connection.objects.filter(profile=profile, public_id__in=wanted).values_list(
            "public_id", flat=True
        )
    }
    strangers = [w for w in wanted if w not in found]
    if strangers:
        raise ServiceError(f"{strangers[0]} is not a connection of {profile.name}.", field=field)
    return wanted


def candidate_version(
    profile: ConnectorProfile, number: str, *, builtin: bool | None = None
) -> ConnectorVersion:
    """A published candidate of the profile by number (the project's own before a built-in
    one of the same number, as resolution prefers it), else 400 on ``to_version``."""
    rows = candidates(profile.project, profile.connector_id).filter(version=number.strip())
    if builtin is not None:
        rows = rows.filter(project__isnull=builtin)
    version = rows.order_by(F("project_id").asc(nulls_last=True)).first()  # custom first
    if version is None:
        raise ServiceError(
            f"{number[:40]} is not a published version of {profile.connector.key} this profile "
            "can use.",
            field="to_version",
        )
    return version


def _locked_profile(profile: ConnectorProfile) -> ConnectorProfile:
    return (
        ConnectorProfile.objects.select_for_update(of=("self",))
        .select_related("project__organization", "connector")
        .get(pk=profile.pk)
    )


def _locked(rollout: Rollout) -> Rollout:
    return (
        Rollout.objects.select_for_update(of=("self",))
        .select_related("project__organization", "profile__connector", "from_version", "to_version")
        .get(pk=rollout.pk)
    )


def _mirror(rollout: Rollout) -> None:
    """The profile's ``rollout_*`` columns from the rollout (cleared once it ended), and the
    connector's versions generation moved so every process sees it on its next request."""
    fields: dict[str, Any]
    if rollout.active:
        fields = {
            "rollout_key": rollout.public_id,
            "rollout_from_id": rollout.from_version_id,
            "rollout_to_id": rollout.to_version_id,
            "rollout_percent": rollout.percent,
            "rollout_window": rollout.window,
            "rollout_include": list(rollout.include),
            "rollout_exclude": list(rollout.exclude),
        }
    else:
        fields = {
            "rollout_key": None,
            "rollout_from_id": None,
            "rollout_to_id": None,
            "rollout_percent": 0,
            "rollout_window": 0,
            "rollout_include": [],
            "rollout_exclude": [],
        }
    ConnectorProfile.objects.filter(pk=rollout.profile_id).update(**fields)
    for name, value in fields.items():
        setattr(rollout.profile, name, value)
    versions_changed(rollout.profile.connector_id)


def _data(rollout: Rollout, **extra: Any) -> dict[str, Any]:
    return {
        "rollout_id": str(rollout.public_id),
        "profile_id": str(rollout.profile.public_id),
        "connector_key": rollout.profile.connector.key,
        "from_version": rollout.from_version.version,
        "to_version": rollout.to_version.version,
        "percent": rollout.percent,
        "step_index": rollout.step_index,
        **extra,
    }


def _record(actor: Actor, rollout: Rollout, kind: str, **extra: Any) -> None:
    """The transition's audit entry and event (``rollout.<kind>``), in its transaction."""
    data = _data(rollout, **extra)
    audit_record(
        actor=actor,
        organization=rollout.project.organization,
        project=rollout.project,
        action=f"rollout.{kind}",
        target=rollout,
        after={k: v for k, v in data.items() if k not in ("rollout_id", "profile_id")},
    )
    event_record(project=rollout.project, type=f"rollout.{kind}", data=data)


def _resolved(version: ConnectorVersion, profile: ConnectorProfile) -> Resolved:
    builtin = version.project_id is None
    return Resolved(
        version.pk,
        version.version,
        builtin,
        "platform" if builtin else profile.project.slug,
        bytes(version.version_key),
    )


# --- Start -----------------------------------------------------------------------------------


@transaction.atomic
def rollout_start(
    *,
    actor: Actor,
    profile: ConnectorProfile,
    to_version: str,
    to_builtin: bool | None = None,
    target_pin: str | None = None,
    keep_pin: bool = True,
    knobs: Settings | None = None,
    include: Iterable[Any] = (),
    exclude: Iterable[Any] = (),
    from_version: ConnectorVersion | None = None,
) -> Rollout:
    """Stage the move of ``profile`` from what it serves now to ``to_version``.

    ``target_pin`` is the pin promotion writes (``keep_pin``: the profile's own); it must
    resolve to ``to_version`` now (400 otherwise). ``from_version`` overrides the stable
    version (a publish that stages: the version the profile served before it)."""
    profile = _locked_profile(profile)
    if profile.rollout_key is not None:
        raise RolloutActive(f"{profile.name} has a running or paused rollout already.")
    knobs = _checked_settings(knobs or Settings())
    stable = from_version or None
    current = stable_version(profile) if stable is None else None
    if stable is None and current is not None:
        stable = ConnectorVersion.objects.get(pk=current.id)
    if stable is None:
        raise ServiceError(f"{profile.name} resolves to no version.", field="to_version")
    candidate = candidate_version(profile, to_version, builtin=to_builtin)
    if candidate.pk == stable.pk:
        raise ServiceError(
            f"{profile.name} is served {stable.version} already; choose another version.",
            field="to_version",
        )
    pin_text = profile.pin if keep_pin else target_pin
    try:
        pin = parse_pin(pin_text)
    except PinError as exc:
        raise ServiceError(exc.message, field="target_pin") from exc
    target = resolve_uncached(profile.project, profile.connector_id, pin)
    if target is None or target.id != candidate.pk:
        found = target.version if target else "nothing"
        raise ServiceError(
            f"The target pin “{pin.text or 'default'}” resolves to {found}, not "
            f"{candidate.version}: give a target_pin that does (e.g. “{candidate.version}” or "
            f"“{candidate.major}.x.x”).",
            field="target_pin",
        )
    listed_in = _checked_connections(profile, include, "include")
    listed_out = _checked_connections(profile, exclude, "exclude")
    now = timezone.now()
    rollout = Rollout(
        project=profile.project,
        profile=profile,
        from_version=stable,
        to_version=candidate,
        target_pin=pin.text,
        steps=list(knobs.steps),
        step_index=0,
        window=1,
        min_soak_minutes=knobs.min_soak_minutes,
        min_requests=knobs.min_requests,
        max_error_rate_increase=knobs.max_error_rate_increase,
        on_regression=knobs.on_regression,
        auto_advance=knobs.auto_advance,
        auto_promote=knobs.auto_promote,
        include=listed_in,
        exclude=listed_out,
        created_by=actor.user,
        created_by_label=actor.label[:200],
        started_at=now,
        step_started_at=now,
    )
    try:
        with transaction.atomic():
            rollout.save()
    except IntegrityError as exc:  # a concurrent start won (the partial unique constraint)
        raise RolloutActive(f"{profile.name} has a running or paused rollout already.") from exc
    rollout.cohort_size = gates.cohort_size(rollout)
    rollout.save(update_fields=["cohort_size"])
    _mirror(rollout)
    _record(actor, rollout, "started", target_pin=rollout.target_pin, steps=rollout.steps)
    return rollout


# --- Transitions ---------------------------------------------------------------------------


def _refuse(rollout: Rollout, verb: str) -> InvalidTransition:
    state = RolloutState(rollout.state).label.lower()
    return InvalidTransition(f"A {state} rollout cannot {verb}.")


def _next_step(actor: Actor, rollout: Rollout, *, by_gate: bool, gate: gates.Gate | None) -> None:
    rollout.last_gate = (gate or gates.gate_of(rollout)).as_dict()
    rollout.step_index += 1
    rollout.window += 1
    rollout.step_started_at = timezone.now()
    rollout.cohort_size = gates.cohort_size(rollout)
    rollout.save(
        update_fields=["last_gate", "step_index", "window", "step_started_at", "cohort_size"]
    )
    _mirror(rollout)
    _record(actor, rollout, "advanced", by_gate=by_gate)


@transaction.atomic
def rollout_advance(*, actor: Actor, rollout: Rollout) -> Rollout:
    """The next step now, without waiting for the gate (audited as such)."""
    rollout = _locked(rollout)
    if rollout.state != RolloutState.RUNNING:
        raise _refuse(rollout, "advance (resume it first)")
    if rollout.last_step:
        raise InvalidTransition("The rollout is at its last step: promote it.")
    _next_step(actor, rollout, by_gate=False, gate=None)
    return rollout


def _pause(actor: Actor, rollout: Rollout, reason: str, gate: gates.Gate | None) -> None:
    rollout.state = RolloutState.PAUSED
    rollout.pause_reason = reason
    rollout.last_gate = (gate or gates.gate_of(rollout)).as_dict()
    rollout.save(update_fields=["state", "pause_reason", "last_gate"])
    _mirror(rollout)
    _record(actor, rollout, "paused", reason=reason)


@transaction.atomic
def rollout_pause(*, actor: Actor, rollout: Rollout) -> Rollout:
    """Stop advancing; the cohort keeps its version until it is resumed or rolled back."""
    rollout = _locked(rollout)
    if rollout.state != RolloutState.RUNNING:
        raise _refuse(rollout, "pause")
    _pause(actor, rollout, PauseReason.MANUAL, None)
    return rollout


@transaction.atomic
def rollout_resume(*, actor: Actor, rollout: Rollout) -> Rollout:
    """Run again; the gate counts afresh from now (a new window for the same step)."""
    rollout = _locked(rollout)
    if rollout.state != RolloutState.PAUSED:
        raise _refuse(rollout, "resume")
    rollout.state = RolloutState.RUNNING
    rollout.pause_reason = ""
    rollout.window += 1
    rollout.step_started_at = timezone.now()
    rollout.save(update_fields=["state", "pause_reason", "window", "step_started_at"])
    _mirror(rollout)
    _record(actor, rollout, "resumed")
    return rollout


def _end(actor: Actor, rollout: Rollout, state: str, gate: gates.Gate | None) -> None:
    rollout.state = state
    rollout.ended_at = timezone.now()
    if rollout.active or not rollout.last_gate or gate is not None:
        rollout.last_gate = (gate or gates.gate_of(rollout)).as_dict()
    rollout.save(update_fields=["state", "pause_reason", "ended_at", "last_gate"])
    _mirror(rollout)


@transaction.atomic
def rollout_promote(*, actor: Actor, rollout: Rollout, gate: gates.Gate | None = None) -> Rollout:
    """End the rollout: the profile's pin becomes the target pin (in this transaction), so
    every connection is served the candidate. Refused (409) when the target pin no longer
    resolves to the candidate (a version published meanwhile): no connection may move to a
    version it was not staged to."""
    rollout = _locked(rollout)
    if not rollout.active:
        raise _refuse(rollout, "be promoted")
    profile = _locked_profile(rollout.profile)
    target = resolve_uncached(profile.project, profile.connector_id, parse_pin(rollout.target_pin))
    if target is None or target.id != rollout.to_version_id:
        raise InvalidTransition(
            f"The target pin “{rollout.target_pin or 'default'}” now resolves to "
            f"{target.version if target else 'nothing'}, not {rollout.to_version.version}: "
            "roll back and stage that version instead."
        )
    before_pin = profile.pin
    profile.pin = rollout.target_pin
    profile.save(update_fields=["pin", "updated_at"])
    rollout.profile = profile
    rollout.pause_reason = ""
    _end(actor, rollout, RolloutState.PROMOTED, gate)
    _record(actor, rollout, "promoted", pin_before=before_pin, pin_after=profile.pin)
    announce_resolution(
        profile, rollout.from_version.version, _resolved(rollout.to_version, profile), "rollout"
    )
    return rollout


@transaction.atomic
def rollout_rollback(
    *, actor: Actor, rollout: Rollout, reason: str = "", gate: gates.Gate | None = None
) -> Rollout:
    """End the rollout: every connection is served the stable version again. The pin stays
    unless it would now serve another version (one published meanwhile): then it holds the
    stable version exactly (audited), so nothing moves."""
    rollout = _locked(rollout)
    if not rollout.active:
        raise _refuse(rollout, "be rolled back")
    profile = _locked_profile(rollout.profile)
    now_pin = resolve_uncached(profile.project, profile.connector_id, parse_pin(profile.pin))
    extra: dict[str, Any] = {"reason": reason or "manual"}
    if now_pin is None or now_pin.id != rollout.from_version_id:
        extra.update(pin_before=profile.pin, pin_after=rollout.from_version.version)
        profile.pin = rollout.from_version.version
        profile.save(update_fields=["pin", "updated_at"])
    rollout.profile = profile
    rollout.pause_reason = reason
    _end(actor, rollout, RolloutState.ROLLED_BACK, gate)
    _record(actor, rollout, "rolled_back", **extra)
    announce_resolution(
        profile,
        rollout.to_version.version,
        _resolved(rollout.from_version, profile),
        "rollout",
    )
    return rollout


# --- The gate's evaluation -----------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    rollout: Rollout
    gate: gates.Gate | None
    action: str  # advanced | promoted | paused | rolled_back | waiting | skipped

    def line(self) -> str:
        rollout = self.rollout
        step = f"step {rollout.step_index + 1}/{len(rollout.steps)} ({rollout.percent} %)"
        verdict = self.gate.verdict.value if self.gate else "-"
        words = f" — {self.gate.words}" if self.gate else ""
        return (
            f"{rollout.project.slug}/{rollout.profile.name}: {rollout.from_version.version} → "
            f"{rollout.to_version.version}, {step}, verdict {verdict}, {self.action}{words}"
        )


def rollout_evaluate(
    *, rollout: Rollout, actor: Actor | None = None, now: datetime | None = None
) -> Evaluation:
    """Judge a running rollout's current step and act on it: fail → pause or roll back
    (``on_regression``, reason ``regression``); pass → the next step with ``auto_advance``
    (at the last step, promotion with ``auto_promote``); still running 7 days after its step
    began → paused, ``expired``; else wait."""
    actor = actor or Actor.system()
    with transaction.atomic():
        rollout = _locked(rollout)
        if rollout.state != RolloutState.RUNNING:
            return Evaluation(rollout, None, "skipped")
        gate = gates.gate_of(rollout, now=now)
        if gate.verdict is gates.Verdict.FAIL:
            if rollout.on_regression == OnRegression.ROLLBACK:
                rollout_rollback(
                    actor=actor, rollout=rollout, reason=PauseReason.REGRESSION, gate=gate
                )
                return Evaluation(_locked(rollout), gate, "rolled_back")
            _pause(actor, rollout, PauseReason.REGRESSION, gate)
            return Evaluation(rollout, gate, "paused")
        if gate.verdict is gates.Verdict.PASS and rollout.auto_advance:
            if not rollout.last_step:
                _next_step(actor, rollout, by_gate=True, gate=gate)
                return Evaluation(rollout, gate, "advanced")
            if rollout.auto_promote:
                try:
                    with transaction.atomic():
                        promoted = rollout_promote(actor=actor, rollout=rollout, gate=gate)
                    return Evaluation(promoted, gate, "promoted")
                except InvalidTransition:
                    pass  # the target pin moved: it waits for a person
        if gates.expired(rollout, now=now):
            _pause(actor, rollout, PauseReason.EXPIRED, gate)
            return Evaluation(rollout, gate, "paused")
        if rollout.cohort_size != (size := gates.cohort_size(rollout)):
            rollout.cohort_size = size  # connections came or went
            rollout.save(update_fields=["cohort_size"])
        return Evaluation(rollout, gate, "waiting")


def rollouts_evaluate(*, now: datetime | None = None) -> list[Evaluation]:
    """Evaluate every running rollout (each in its own transaction)."""
    done = []
    for pk in gates.running_ids():
        rollout = Rollout.objects.filter(pk=pk).first()
        if rollout is not None:
            done.append(rollout_evaluate(rollout=rollout, now=now))
    return done


# --- Publish-time choice --------------------------------------------------------------------


class Choice:
    MOVE = "move"  # today's behaviour: the publish moves the profile
    STAGE = "stage"  # a rollout with the default steps; the pin changes at promotion
    HOLD = "hold"  # the profile stays exactly where it is

    ALL = ("move", "stage", "hold")


@transaction.atomic
def publish_with_choices[T](
    *,
    actor: Actor,
    project: Any,
    push: Callable[[], T],
    version_of: Callable[[T], ConnectorVersion],
    choices: dict[int, str],
    knobs: Settings | None = None,
) -> T:
    """Publish (``push``) with a choice per profile the publish would move (profile pk →
    ``move`` / ``stage`` / ``hold``). Held and staged profiles are first pinned exactly to
    what they serve (an audited pin change), so the publish moves nobody on them; each staged
    one then gets a rollout to the new version whose target pin is its pin of before. One
    transaction: no other process ever sees the publish without its rollouts."""
    wanted = [pk for pk, choice in choices.items() if choice in (Choice.STAGE, Choice.HOLD)]
    before: dict[int, str | None] = {}
    for profile in ConnectorProfile.objects.filter(project=project, pk__in=wanted).select_related(
        "project", "connector"
    ):
        current = stable_version(profile)
        if profile.rollout_key is not None or current is None:
            continue
        before[profile.pk] = profile.pin
        if profile.pin != current.version:
            profile_set_pin(actor=actor, profile=profile, pin=current.version)
    result = push()
    version = version_of(result)
    if version.published_at is None:
        return result
    for pk, pin in before.items():
        if choices.get(pk) != Choice.STAGE:
            continue
        profile = ConnectorProfile.objects.select_related("project", "connector").get(pk=pk)
        rollout_start(
            actor=actor,
            profile=profile,
            to_version=version.version,
            to_builtin=version.project_id is None,
            keep_pin=False,
            target_pin=pin,
            knobs=knobs,
        )
    return result
