"""Reads of staged rollouts: the rollout of a profile, the running ones, the cohort, and the
gate of the current step.

The gate compares the candidate's error rate with the stable version's over the current
step's window, from the serving tallies (``profiles.models.ServingTally``: one row per
version and window, counted as each request and health check is logged), so an evaluation
reads two rows whatever the number of requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from django.db.models import QuerySet
from django.utils import timezone

from connections import counters
from connections.models import Connection
from profiles.models import ConnectorProfile, ServingTally
from profiles.serving import Why, cohort_why
from projects.models import Project

from .models import ACTIVE_STATES, Rollout, RolloutState

EXPIRY = timedelta(days=7)


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Figures:
    requests: int = 0
    errors: int = 0

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": round(self.error_rate, 4),
        }


@dataclass(frozen=True)
class Gate:
    stable: Figures
    candidate: Figures
    verdict: Verdict
    soaked: bool
    words: str  # the verdict in words, for pages and the command's line

    def as_dict(self) -> dict[str, object]:
        return {
            "stable": self.stable.as_dict(),
            "candidate": self.candidate.as_dict(),
            "verdict": self.verdict.value,
        }


def _percent(rate: float) -> str:
    return f"{rate * 100:.0f} %" if rate >= 0.01 or rate == 0 else f"{rate * 100:.1f} %"


def judge(
    rollout: Rollout, stable: Figures, candidate: Figures, *, now: datetime | None = None
) -> Gate:
    """The gate's arithmetic (docs/api.md "Staged rollouts"): fail when the candidate has
    ``min_requests`` and its error rate exceeds the stable one's by more than
    ``max_error_rate_increase``; pass when it has them, is not worse by that much, and the step
    is ``min_soak_minutes`` old; else inconclusive."""
    now = now or timezone.now()
    soaked = now - rollout.step_started_at >= timedelta(minutes=rollout.min_soak_minutes)
    number = rollout.to_version.version
    if candidate.requests < rollout.min_requests:
        missing = rollout.min_requests - candidate.requests
        words = f"waiting for {missing} more request{'s' if missing != 1 else ''} on {number}"
        return Gate(stable, candidate, Verdict.INCONCLUSIVE, soaked, words)
    increase = candidate.error_rate - stable.error_rate
    rates = f"{number} fails {_percent(candidate.error_rate)} vs {_percent(stable.error_rate)}"
    if increase > rollout.max_error_rate_increase + 1e-12:
        return Gate(stable, candidate, Verdict.FAIL, soaked, rates)
    if not soaked:
        left = rollout.step_started_at + timedelta(minutes=rollout.min_soak_minutes) - now
        minutes = max(1, int(left.total_seconds() // 60) + 1)
        words = f"{rates}: soaking, {minutes} more minute{'s' if minutes != 1 else ''}"
        return Gate(stable, candidate, Verdict.INCONCLUSIVE, soaked, words)
    return Gate(stable, candidate, Verdict.PASS, soaked, f"{rates}: healthy")


def figures(rollout: Rollout) -> tuple[Figures, Figures]:
    """(stable, candidate) in the rollout's current window: one query on the tallies."""
    rows = ServingTally.objects.filter(
        rollout_key=rollout.public_id, gate_window=rollout.window
    ).values_list("version_pk", "requests", "errors")
    found = {pk: Figures(n, e) for pk, n, e in rows}
    return found.get(rollout.from_version_id, Figures()), found.get(
        rollout.to_version_id, Figures()
    )


def gate_of(rollout: Rollout, *, now: datetime | None = None) -> Gate:
    """The current step's gate. An ended rollout shows the figures it ended with."""
    if not rollout.active and rollout.last_gate:
        saved = rollout.last_gate
        stable = Figures(saved["stable"]["requests"], saved["stable"]["errors"])
        candidate = Figures(saved["candidate"]["requests"], saved["candidate"]["errors"])
        return judge(rollout, stable, candidate, now=now)
    stable, candidate = figures(rollout)
    return judge(rollout, stable, candidate, now=now)


def expired(rollout: Rollout, *, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return rollout.state == RolloutState.RUNNING and now - rollout.step_started_at >= EXPIRY


# --- Rollouts ------------------------------------------------------------------------------------


def _rollouts() -> QuerySet[Rollout]:
    return Rollout.objects.select_related(
        "project__organization", "profile__connector", "from_version", "to_version"
    )


def rollout_of_profile(profile: ConnectorProfile) -> Rollout | None:
    """The running or paused rollout of the profile (its ``rollout_key`` names it), else its
    latest ended one: one query."""
    rows = _rollouts().filter(profile=profile)
    if profile.rollout_key is not None:
        return rows.filter(public_id=profile.rollout_key).first()
    return rows.order_by("-started_at", "-id").first()


def active_rollout(profile: ConnectorProfile) -> Rollout | None:
    return _rollouts().filter(profile=profile, state__in=ACTIVE_STATES).first()


def active_rollouts(project: Project | None = None) -> list[Rollout]:
    """Running and paused rollouts (of one project, or of all: the scheduler), oldest first."""
    rows = _rollouts().filter(state__in=ACTIVE_STATES)
    if project is not None:
        rows = rows.filter(project=project)
    return list(rows.order_by("started_at", "id"))


def running_ids() -> list[int]:
    return list(
        Rollout.objects.filter(state=RolloutState.RUNNING)
        .order_by("id")
        .values_list("pk", flat=True)
    )


def rollout_by_public_id(project: Project, rollout_id: UUID) -> Rollout | None:
    return _rollouts().filter(project=project, public_id=rollout_id).first()


def cohort_size(rollout: Rollout, percent: int | None = None) -> int:
    """How many of the profile's connections are in the cohort at ``percent`` (default: the
    current step's): the stable hash of each connection's id, streamed."""
    percent = rollout.percent if percent is None else percent
    if percent >= 100 and not rollout.exclude:
        return connection_count(rollout)
    include, exclude = set(rollout.include), set(rollout.exclude)
    ids = Connection.objects.filter(profile_id=rollout.profile_id).values_list(
        "public_id", flat=True
    )
    return sum(
        1
        for cid in ids.iterator(chunk_size=5000)
        if cohort_why(rollout.public_id, percent, cid, include, exclude)
        in (Why.INCLUDED, Why.COHORT)
    )


def connection_count(rollout: Rollout) -> int:
    return counters.on_profile(rollout.profile_id)


# --- What a page shows of a rollout ----------------------------------------------------------

VERBS = ("advance", "pause", "resume", "promote", "rollback")


@dataclass(frozen=True)
class RolloutView:
    rollout: Rollout
    gate: Gate
    connection_count: int
    allowed: tuple[str, ...]  # the transitions its state allows now
    words: str  # where it stands, in words

    @property
    def steps(self) -> list[tuple[int, str]]:
        """Each step's percentage and whether it is done, current or to come."""
        index = self.rollout.step_index
        return [
            (p, "done" if i < index else "current" if i == index else "next")
            for i, p in enumerate(self.rollout.steps)
        ]


def allowed_transitions(rollout: Rollout) -> tuple[str, ...]:
    if rollout.state == RolloutState.RUNNING:
        return tuple(
            v for v in VERBS if v != "resume" and not (v == "advance" and rollout.last_step)
        )
    if rollout.state == RolloutState.PAUSED:
        return ("resume", "promote", "rollback")
    return ()


def describe(rollout: Rollout, gate: Gate) -> str:
    number = rollout.to_version.version
    if rollout.state == RolloutState.PROMOTED:
        return f"Promoted: every connection is served {number}."
    if rollout.state == RolloutState.ROLLED_BACK:
        why = " after a regression" if rollout.pause_reason == "regression" else ""
        return f"Rolled back{why}: every connection is served {rollout.from_version.version}."
    if rollout.state == RolloutState.PAUSED:
        reasons = {
            "regression": f"{gate.words}: paused",
            "expired": "seven days in one step: paused",
            "manual": "paused by hand",
        }
        return reasons.get(rollout.pause_reason, "paused").capitalize() + "."
    return gate.words[:1].upper() + gate.words[1:] + "."


def rollout_view(profile: ConnectorProfile) -> RolloutView | None:
    """The profile's rollout (running or paused, else the latest) as a page shows it."""
    rollout = rollout_of_profile(profile)
    if rollout is None:
        return None
    gate = gate_of(rollout)
    return RolloutView(
        rollout,
        gate,
        connection_count(rollout),
        allowed_transitions(rollout),
        describe(rollout, gate),
    )
