"""Staged rollouts: the cohort, the serving version of each connection, the state machine with
its audit entries and events, promotion's pin, rollback, and the gate's arithmetic and
actions on a controlled tally."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from connections.models import Connection
from connections.services.pins import profile_set_pin
from core import freshness
from events.models import Event
from profiles.models import ConnectorProfile, ServingTally
from profiles.services import serving_count
from profiles.serving import Why, bucket, cohort_why, serving_version
from projects.models import AuditEntry
from projects.services import Actor, ConflictError, ServiceError
from rollouts import gate as gates
from rollouts.models import PauseReason, Rollout, RolloutState
from rollouts.services import staged
from rollouts.services.staged import InvalidTransition, RolloutActive, Settings
from tests.factories import make_connection, make_project, pin_profile, publish_version

pytestmark = pytest.mark.django_db


def served(profile: ConnectorProfile, connection_id: Any) -> str:
    resolved = serving_version(profile, connection_id).resolved
    assert resolved is not None
    return resolved.version


SYSTEM = Actor.system()


def staged_profile(n: int = 0, *, pin: str = "1.2.0") -> tuple[ConnectorProfile, list[Connection]]:
    """A profile held at 1.2.0 with 1.3.0 published, and ``n`` connections."""
    project = make_project()
    publish_version(project, "1.2.0")
    publish_version(project, "1.3.0")
    profile = pin_profile(project, "production", pin)
    return profile, [make_connection(profile) for _ in range(n)]


def start(profile: ConnectorProfile, **kwargs: Any) -> Rollout:
    kwargs.setdefault("to_version", "1.3.0")
    kwargs.setdefault("keep_pin", False)
    kwargs.setdefault("target_pin", "1.x.x")
    return staged.rollout_start(actor=SYSTEM, profile=profile, **kwargs)


def fresh(profile: ConnectorProfile) -> ConnectorProfile:
    return ConnectorProfile.objects.select_related("project").get(pk=profile.pk)


# --- The cohort ----------------------------------------------------------------------------------


def test_bucket_is_stable_and_spread() -> None:
    key = "0b7e8a4e-4a0c-4a43-9d55-1f3c7e0b7a11"
    assert bucket(key, "c1") == bucket(key, "c1")  # the same in every process: not hash()
    assert bucket(key, "c1") == 4348  # pinned: a change of function would move every cohort
    buckets = [bucket(key, f"connection-{i}") for i in range(4000)]
    assert all(0 <= b < 10_000 for b in buckets)
    below = sum(b < 2500 for b in buckets)
    assert 850 < below < 1150  # about a quarter


def test_raising_the_percentage_only_adds_connections() -> None:
    key = "5a1c6f0e-0000-4000-8000-000000000001"
    ids = [f"id-{i}" for i in range(500)]
    previous: set[str] = set()
    for percent in (0, 5, 25, 50, 100):
        now = {c for c in ids if cohort_why(key, percent, c) is Why.COHORT}
        assert previous <= now
        previous = now
    assert previous == set(ids)


def test_include_first_exclude_never() -> None:
    key = "5a1c6f0e-0000-4000-8000-000000000002"
    assert cohort_why(key, 0, "a", include=["a"], exclude=["a"]) is Why.INCLUDED
    assert cohort_why(key, 100, "b", exclude=["b"]) is Why.EXCLUDED
    assert cohort_why(key, 100, "c") is Why.COHORT
    assert cohort_why(key, 0, "c") is Why.OUTSIDE


# --- Serving per connection ---------------------------------------------------------------------


def test_cohort_is_served_the_candidate_the_rest_the_stable_version() -> None:
    profile, connections = staged_profile(40)
    rollout = start(profile, knobs=Settings(steps=[25, 100]))
    profile = fresh(profile)
    served = {c.pk: serving_version(profile, c.public_id) for c in connections}
    in_cohort = {pk for pk, s in served.items() if s.candidate}
    assert {s.resolved.version for s in served.values() if s.candidate and s.resolved} <= {"1.3.0"}
    assert {s.resolved.version for s in served.values() if not s.candidate and s.resolved} == {
        "1.2.0"
    }
    assert len(in_cohort) == rollout.cohort_size
    expected = {c.pk for c in connections if bucket(rollout.public_id, c.public_id) < 2500}
    assert in_cohort == expected
    # Something published meanwhile changes nothing.
    publish_version(profile.project, "1.4.0")
    freshness.local_clear()
    again = {c.pk: serving_version(fresh(profile), c.public_id).resolved for c in connections}
    assert {r.version for r in again.values() if r} <= {"1.2.0", "1.3.0"}


def test_serving_version_cold_at_most_two_queries_warm_none() -> None:
    profile, connections = staged_profile(2)
    target = connections[0]
    profile = fresh(profile)
    freshness.request_began()
    try:
        with CaptureQueriesContext(connection) as cold:
            serving_version(profile, target.public_id)
        with CaptureQueriesContext(connection) as warm:
            serving_version(profile, target.public_id)
        assert len(cold) <= 2 and len(warm) == 0
        start(profile)
        profile = fresh(profile)
        freshness.request_ended()
        freshness.request_began()
        with CaptureQueriesContext(connection) as cold:
            serving_version(profile, target.public_id)
        with CaptureQueriesContext(connection) as warm:
            serving_version(profile, target.public_id)
        assert len(cold) <= 2 and len(warm) == 0, [q["sql"] for q in cold]
    finally:
        freshness.request_ended()


def test_include_and_exclude_lists() -> None:
    profile, connections = staged_profile(6)
    inside, outside = connections[0], connections[1]
    start(
        profile,
        include=[inside.public_id],
        exclude=[outside.public_id],
        knobs=Settings(steps=[1, 100]),
    )
    profile = fresh(profile)
    assert serving_version(profile, inside.public_id).why is Why.INCLUDED
    assert served(profile, inside.public_id) == "1.3.0"
    staged.rollout_advance(actor=SYSTEM, rollout=Rollout.objects.get())
    profile = fresh(profile)
    assert serving_version(profile, outside.public_id).why is Why.EXCLUDED
    assert served(profile, outside.public_id) == "1.2.0"


def test_a_stranger_in_the_include_list_is_refused() -> None:
    profile, _ = staged_profile(1)
    _other, theirs = staged_profile(1)
    with pytest.raises(ServiceError) as refused:
        start(profile, include=[theirs[0].public_id])
    assert refused.value.field == "include"
    assert not Rollout.objects.exists()


# --- Start: validation and the one-active constraint -------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"to_version": "9.9.9"}, "to_version"),
        ({"to_version": "1.2.0"}, "to_version"),
        ({"keep_pin": True}, "target_pin"),  # "1.2.0" does not resolve to 1.3.0
        ({"target_pin": "^1.3"}, "target_pin"),
        ({"knobs": Settings(steps=[50, 25, 100])}, "steps"),
        ({"knobs": Settings(steps=[5, 25])}, "steps"),
        ({"knobs": Settings(min_requests=0)}, "min_requests"),
        ({"knobs": Settings(min_soak_minutes=10081)}, "min_soak_minutes"),
        ({"knobs": Settings(max_error_rate_increase=1.5)}, "max_error_rate_increase"),
        ({"knobs": Settings(on_regression="explode")}, "on_regression"),
    ],
)
def test_bad_starts_are_refused_and_change_nothing(kwargs: dict[str, Any], field: str) -> None:
    profile, _ = staged_profile(1)
    with pytest.raises(ServiceError) as refused:
        start(profile, **kwargs)
    assert refused.value.field == field and refused.value.status == 400
    assert not Rollout.objects.exists()
    assert fresh(profile).rollout_key is None
    assert not Event.objects.filter(type__startswith="rollout.").exists()


def test_one_running_or_paused_rollout_per_profile() -> None:
    profile, _ = staged_profile(1)
    rollout = start(profile)
    with pytest.raises(RolloutActive):
        start(fresh(profile))
    staged.rollout_pause(actor=SYSTEM, rollout=rollout)
    with pytest.raises(RolloutActive):
        start(fresh(profile))
    # The database refuses it too, whatever a service checks.
    second = Rollout(
        project=rollout.project,
        profile=rollout.profile,
        from_version=rollout.from_version,
        to_version=rollout.to_version,
        steps=[100],
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        second.save()
    staged.rollout_rollback(actor=SYSTEM, rollout=rollout)
    assert start(fresh(profile)).state == RolloutState.RUNNING


# --- Transitions ---------------------------------------------------------------------------------


def test_state_machine_audits_and_announces_every_transition() -> None:
    profile, _ = staged_profile(3)
    rollout = start(profile, knobs=Settings(steps=[10, 50, 100]))
    rollout = staged.rollout_advance(actor=SYSTEM, rollout=rollout)
    assert (rollout.step_index, rollout.percent, fresh(profile).rollout_percent) == (1, 50, 50)
    rollout = staged.rollout_pause(actor=SYSTEM, rollout=rollout)
    assert rollout.pause_reason == PauseReason.MANUAL
    with pytest.raises(InvalidTransition):
        staged.rollout_advance(actor=SYSTEM, rollout=rollout)
    with pytest.raises(InvalidTransition):
        staged.rollout_pause(actor=SYSTEM, rollout=rollout)
    rollout = staged.rollout_resume(actor=SYSTEM, rollout=rollout)
    assert rollout.window == 3 and fresh(profile).rollout_window == 3
    rollout = staged.rollout_advance(actor=SYSTEM, rollout=rollout)
    with pytest.raises(InvalidTransition):
        staged.rollout_advance(actor=SYSTEM, rollout=rollout)  # at 100 %: promote
    rollout = staged.rollout_promote(actor=SYSTEM, rollout=rollout)
    assert rollout.state == RolloutState.PROMOTED and rollout.ended_at is not None
    for verb in (staged.rollout_resume, staged.rollout_rollback, staged.rollout_promote):
        with pytest.raises(InvalidTransition):
            verb(actor=SYSTEM, rollout=rollout)
    kinds = ["started", "advanced", "paused", "resumed", "advanced", "promoted"]
    events = list(Event.objects.filter(type__startswith="rollout.").order_by("id"))
    assert [e.type for e in events] == [f"rollout.{k}" for k in kinds]
    assert events[2].data["reason"] == "manual"
    audits = AuditEntry.objects.filter(action__startswith="rollout.").order_by("id")
    assert [a.action for a in audits] == [f"rollout.{k}" for k in kinds]
    assert (audits[1].after or {})["by_gate"] is False  # advanced by hand, without the gate
    changed = Event.objects.get(type="profile.resolution_changed")
    assert changed.data["cause"] == "rollout"
    assert (changed.data["from_version"], changed.data["to_version"]) == ("1.2.0", "1.3.0")


def test_promotion_writes_the_target_pin_and_ends_the_override() -> None:
    profile, connections = staged_profile(5)
    rollout = start(profile, knobs=Settings(steps=[5, 100]))
    with pytest.raises(ConflictError):
        profile_set_pin(actor=SYSTEM, profile=fresh(profile), pin="1.2.0")
    staged.rollout_promote(actor=SYSTEM, rollout=rollout)
    profile = fresh(profile)
    assert profile.pin == "1.x.x" and profile.rollout_key is None
    assert {served(profile, c.public_id) for c in connections} == {"1.3.0"}


def test_promotion_is_refused_when_the_target_pin_moved_on() -> None:
    profile, _ = staged_profile(1)
    rollout = start(profile)
    publish_version(profile.project, "1.4.0")
    with pytest.raises(InvalidTransition):
        staged.rollout_promote(actor=SYSTEM, rollout=rollout)
    assert Rollout.objects.get().state == RolloutState.RUNNING
    assert fresh(profile).pin == "1.2.0"


def test_rollback_serves_the_stable_version_to_everyone() -> None:
    profile, connections = staged_profile(10)
    rollout = start(profile, knobs=Settings(steps=[100]))
    assert {served(fresh(profile), c.public_id) for c in connections} == {"1.3.0"}
    staged.rollout_rollback(actor=SYSTEM, rollout=rollout)
    profile = fresh(profile)
    assert profile.pin == "1.2.0" and profile.rollout_key is None
    assert {served(profile, c.public_id) for c in connections} == {"1.2.0"}
    event = Event.objects.get(type="profile.resolution_changed")
    assert (event.data["from_version"], event.data["to_version"], event.data["cause"]) == (
        "1.3.0",
        "1.2.0",
        "rollout",
    )


def test_rollback_holds_the_stable_version_when_the_pin_would_move() -> None:
    # A profile on 1.x.x whose rollout stages the 1.3.0 its pin now resolves to.
    project = make_project()
    v12 = publish_version(project, "1.2.0")
    profile = pin_profile(project, "production", "1.x.x")
    publish_version(project, "1.3.0")
    rollout = staged.rollout_start(
        actor=SYSTEM, profile=fresh(profile), to_version="1.3.0", from_version=v12
    )
    staged.rollout_rollback(actor=SYSTEM, rollout=rollout)
    assert fresh(profile).pin == "1.2.0"
    audit = AuditEntry.objects.get(action="rollout.rolled_back")
    after = audit.after or {}
    assert (after["pin_before"], after["pin_after"]) == ("1.x.x", "1.2.0")


# --- The gate ----------------------------------------------------------------------------------


def tally(profile: ConnectorProfile, version_id: int, requests: int, errors: int) -> None:
    profile = fresh(profile)
    for i in range(requests):
        serving_count(profile=profile, version_id=version_id, error=i < errors)


def soaked(rollout: Rollout, minutes: int = 11) -> Rollout:
    Rollout.objects.filter(pk=rollout.pk).update(
        step_started_at=timezone.now() - timedelta(minutes=minutes)
    )
    return Rollout.objects.get(pk=rollout.pk)


@pytest.mark.parametrize(
    ("stable", "candidate", "minutes", "verdict"),
    [
        ((100, 2), (20, 1), 11, "pass"),  # 5 % vs 2 %: within +5 points
        ((100, 2), (20, 2), 11, "fail"),  # 10 % vs 2 %
        ((100, 2), (19, 10), 11, "inconclusive"),  # too few requests, however bad
        ((100, 2), (20, 0), 5, "inconclusive"),  # not soaked yet
        ((0, 0), (20, 1), 11, "pass"),  # no stable traffic: 5 % vs 0 %
        ((10, 10), (20, 20), 11, "pass"),  # not worse than a failing stable version
    ],
)
def test_gate_arithmetic(
    stable: tuple[int, int], candidate: tuple[int, int], minutes: int, verdict: str
) -> None:
    profile, _ = staged_profile()
    rollout = soaked(start(profile), minutes)
    tally(profile, rollout.from_version_id, *stable)
    tally(profile, rollout.to_version_id, *candidate)
    gate = gates.gate_of(rollout)
    assert gate.verdict.value == verdict, gate.words
    assert gate.candidate.requests == candidate[0] and gate.stable.errors == stable[1]


def test_the_gate_counts_the_current_window_only() -> None:
    profile, _ = staged_profile()
    rollout = start(profile, knobs=Settings(steps=[5, 50, 100]))
    tally(profile, rollout.to_version_id, 30, 30)
    rollout = staged.rollout_advance(actor=SYSTEM, rollout=rollout)
    assert gates.gate_of(rollout).candidate.requests == 0
    assert ServingTally.objects.filter(rollout_key=rollout.public_id).count() == 1


def test_evaluation_advances_then_pauses_on_regression_then_rolls_back() -> None:
    profile, _ = staged_profile()
    rollout = soaked(start(profile, knobs=Settings(steps=[5, 50, 100])))
    tally(profile, rollout.from_version_id, 50, 1)
    tally(profile, rollout.to_version_id, 20, 0)
    assert staged.rollout_evaluate(rollout=rollout).action == "advanced"
    rollout = soaked(Rollout.objects.get())
    assert rollout.percent == 50
    tally(profile, rollout.from_version_id, 50, 1)
    tally(profile, rollout.to_version_id, 25, 5)
    result = staged.rollout_evaluate(rollout=rollout)
    assert result.action == "paused" and "1.3.0 fails 20 % vs 2 %" in result.line()
    rollout = Rollout.objects.get()
    assert (rollout.state, rollout.pause_reason) == ("paused", "regression")
    assert rollout.last_gate["candidate"]["errors"] == 5
    assert Event.objects.get(type="rollout.paused").data["reason"] == "regression"
    assert staged.rollout_evaluate(rollout=rollout).action == "skipped"


def test_evaluation_rolls_back_when_asked_to() -> None:
    profile, _ = staged_profile()
    rollout = start(profile, knobs=Settings(on_regression="rollback", min_requests=5))
    tally(profile, rollout.to_version_id, 5, 5)
    assert staged.rollout_evaluate(rollout=rollout).action == "rolled_back"
    rollout = Rollout.objects.get()
    assert (rollout.state, rollout.pause_reason) == ("rolled_back", "regression")
    assert fresh(profile).rollout_key is None


def test_evaluation_promotes_only_with_auto_promote() -> None:
    profile, _ = staged_profile()
    rollout = soaked(start(profile, knobs=Settings(steps=[100], min_requests=1)))
    tally(profile, rollout.to_version_id, 3, 0)
    assert staged.rollout_evaluate(rollout=rollout).action == "waiting"
    Rollout.objects.filter(pk=rollout.pk).update(auto_promote=True)
    assert staged.rollout_evaluate(rollout=rollout).action == "promoted"
    assert fresh(profile).pin == "1.x.x"


def test_a_rollout_running_seven_days_in_a_step_expires() -> None:
    profile, _ = staged_profile()
    rollout = soaked(start(profile, knobs=Settings(steps=[100])), minutes=7 * 24 * 60 + 1)
    assert staged.rollout_evaluate(rollout=rollout).action == "paused"
    assert Rollout.objects.get().pause_reason == PauseReason.EXPIRED


def test_the_evaluate_command_prints_one_line_per_rollout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from django.core.management import call_command

    profile, _ = staged_profile()
    start(profile)
    call_command("rollouts_evaluate")
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert "production" in out[0] and "1.2.0 → 1.3.0" in out[0] and "inconclusive" in out[0]
