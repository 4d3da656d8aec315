"""Rollouts: moving connections to new versions.

A ``Rollout`` is a staged move of one profile from the version it serves (stable) to another
published candidate, in steps of percentages, gated on the two versions' error rates. A
``ProfileMigration`` tracks the move (pending: still on the old profile; migrated: moved by
re-authentication since it started); a ``MigrationNotice`` is one pending account's current
reconnect link and how often it was sent.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from connections.models import Connection, ConnectSession
from connectors.models import ConnectorVersion
from core.public_ids import public_id_field
from profiles.models import ConnectorProfile
from projects.models import Project


class DeadlineAction(models.TextChoices):
    NONE = "none", "Nothing"
    DISABLE = "disable", "Disable the pending accounts"


class ProfileMigration(models.Model):
    """The tracked move of the connections on an old profile to a new one (after a breaking
    release). Pending: connections still on ``from_profile``. Migrated: connections moved
    from it to ``to_profile`` by re-authentication since ``started_at``."""

    public_id = public_id_field()
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="profile_migrations"
    )
    from_profile = models.ForeignKey(
        ConnectorProfile, on_delete=models.PROTECT, related_name="migrations_out"
    )
    to_profile = models.ForeignKey(
        ConnectorProfile, on_delete=models.PROTECT, related_name="migrations_in"
    )
    title = models.CharField(max_length=200)
    message = models.TextField(blank=True, help_text="Shown to end users in the notice email.")
    deadline = models.DateTimeField(null=True, blank=True)
    # What the scheduler does to the accounts still pending at the deadline, and on which
    # days before it (whole days, e.g. [14, 7, 1]) it reminds them.
    deadline_action = models.CharField(
        max_length=16, choices=DeadlineAction.choices, default=DeadlineAction.NONE
    )
    reminder_days = models.JSONField(default=list, blank=True)
    deadline_applied_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_label = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "profiles_profilemigration"  # the table kept its name when the app moved
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_profile=F("to_profile")), name="migration_two_profiles"
            ),
            models.UniqueConstraint(
                fields=["from_profile"],
                condition=Q(completed_at__isnull=True),
                name="migration_one_open_per_profile",
            ),
            models.CheckConstraint(
                condition=Q(deadline_action__in=[a.value for a in DeadlineAction]),
                name="migration_deadline_action_valid",
            ),
        ]
        indexes = [
            # The scheduler's look for open migrations with a deadline.
            models.Index(
                fields=["deadline"],
                condition=Q(completed_at__isnull=True, deadline__isnull=False),
                name="migration_open_deadline",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.completed_at is None


class MigrationNotice(models.Model):
    """Per pending account: its current reconnect link and how often it was sent."""

    migration = models.ForeignKey(
        ProfileMigration, on_delete=models.CASCADE, related_name="notices"
    )
    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="migration_notices"
    )
    session = models.ForeignKey(
        ConnectSession,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The link's token, encrypted (it is shown again on the migration page and in exports).
    link_token = models.TextField(blank=True, default="", editable=False)
    link_expires_at = models.DateTimeField(null=True, blank=True)
    notices_sent = models.PositiveIntegerField(default=0)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "profiles_migrationnotice"
        constraints = [
            models.UniqueConstraint(
                fields=["migration", "connection"], name="notice_one_per_account"
            )
        ]
        indexes = [
            models.Index(fields=["migration", "last_sent_at"], name="notice_sent"),
            # "Never notified" filters test each pending account against this (index only).
            models.Index(
                fields=["migration", "connection"],
                condition=Q(notices_sent__gt=0),
                name="notice_sent_accounts",
            ),
        ]

    def __str__(self) -> str:
        return f"notice for connection {self.connection_id}"


class MigrationReminder(models.Model):
    """One pending account reminded on one reminder day (``day``: days before the deadline):
    the unique key makes it at most once per account per day, whoever sends it."""

    migration = models.ForeignKey(
        ProfileMigration, on_delete=models.CASCADE, related_name="reminders"
    )
    day = models.PositiveSmallIntegerField()
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["migration", "day", "connection"], name="reminder_once_per_account_day"
            )
        ]

    def __str__(self) -> str:
        return f"reminder {self.day} d before, connection {self.connection_id}"


class NoticeRun(models.Model):
    """One "send reconnect emails" request: how many accounts were queued and how many the
    worker has gone through, so the migration page can show progress and stop when idle."""

    migration = models.ForeignKey(
        ProfileMigration, on_delete=models.CASCADE, related_name="notice_runs"
    )
    queued = models.PositiveIntegerField()
    processed = models.PositiveIntegerField(default=0)
    sent = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["migration", "-id"], name="notice_run_recent")]
        constraints = [
            models.CheckConstraint(
                condition=Q(processed__lte=F("queued")), name="notice_run_processed_le_queued"
            )
        ]

    def __str__(self) -> str:
        return f"{self.processed}/{self.queued} notices of migration {self.migration_id}"

    @property
    def active(self) -> bool:
        return self.processed < self.queued

    @property
    def percent(self) -> int:
        return 100 if not self.queued else int(self.processed * 100 / self.queued)


# --- Staged rollouts ------------------------------------------------------------------------------


class RolloutState(models.TextChoices):
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    PROMOTED = "promoted", "Promoted"
    ROLLED_BACK = "rolled_back", "Rolled back"


ACTIVE_STATES = (RolloutState.RUNNING.value, RolloutState.PAUSED.value)


class PauseReason(models.TextChoices):
    REGRESSION = "regression", "Regression"
    MANUAL = "manual", "Paused by hand"
    EXPIRED = "expired", "Expired"


class OnRegression(models.TextChoices):
    PAUSE = "pause", "Pause"
    ROLLBACK = "rollback", "Roll back"


DEFAULT_STEPS = [5, 25, 50, 100]


class Rollout(models.Model):
    """A staged move of ``profile`` from ``from_version`` to ``to_version``. While running or
    paused, the profile's ``rollout_*`` columns (what resolution reads) mirror it; they are
    written in the same transaction as every transition (rollouts.services)."""

    public_id = public_id_field()
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="rollouts")
    profile = models.ForeignKey(ConnectorProfile, on_delete=models.CASCADE, related_name="rollouts")
    from_version = models.ForeignKey(ConnectorVersion, on_delete=models.PROTECT, related_name="+")
    to_version = models.ForeignKey(ConnectorVersion, on_delete=models.PROTECT, related_name="+")
    target_pin = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 - null: no pin
    state = models.CharField(
        max_length=16, choices=RolloutState.choices, default=RolloutState.RUNNING
    )
    pause_reason = models.CharField(max_length=16, choices=PauseReason.choices, blank=True)
    steps = models.JSONField(default=list)
    step_index = models.PositiveSmallIntegerField(default=0)
    # Which gate window the current step counts in (moves at each step and on resume).
    window = models.PositiveIntegerField(default=0)
    min_soak_minutes = models.PositiveIntegerField(default=10)
    min_requests = models.PositiveIntegerField(default=20)
    max_error_rate_increase = models.FloatField(default=0.05)
    on_regression = models.CharField(
        max_length=16, choices=OnRegression.choices, default=OnRegression.PAUSE
    )
    auto_advance = models.BooleanField(default=True)
    auto_promote = models.BooleanField(default=False)
    include = models.JSONField(default=list, blank=True)  # connection public ids
    exclude = models.JSONField(default=list, blank=True)
    cohort_size = models.PositiveIntegerField(default=0)  # counted at each transition
    # The gate's figures when the rollout last left a step (shown after it ended or paused).
    last_gate = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_label = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    step_started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # At most one running or paused rollout per profile. The states are constants in
            # the index's condition (see docs/architecture.md on partial indexes).
            models.UniqueConstraint(
                fields=["profile"],
                condition=Q(state__in=ACTIVE_STATES),
                name="rollout_one_active_per_profile",
            ),
            models.CheckConstraint(
                condition=Q(state__in=[s.value for s in RolloutState]), name="rollout_state_valid"
            ),
            models.CheckConstraint(
                condition=~Q(from_version=F("to_version")), name="rollout_two_versions"
            ),
            models.CheckConstraint(
                condition=Q(state__in=ACTIVE_STATES, ended_at__isnull=True)
                | (~Q(state__in=ACTIVE_STATES) & Q(ended_at__isnull=False)),
                name="rollout_ended_when_over",
            ),
            models.CheckConstraint(
                condition=Q(pause_reason="") | Q(pause_reason__in=[r.value for r in PauseReason]),
                name="rollout_pause_reason_valid",
            ),
            models.CheckConstraint(
                condition=Q(max_error_rate_increase__gte=0, max_error_rate_increase__lte=1),
                name="rollout_error_rate_range",
            ),
        ]
        indexes = [
            models.Index(fields=["profile", "-started_at"], name="rollout_profile_recent"),
            models.Index(
                fields=["project", "state"],
                condition=Q(state__in=ACTIVE_STATES),
                name="rollout_active",
            ),
        ]

    def __str__(self) -> str:
        return f"rollout of {self.profile_id} to version {self.to_version_id}"

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def percent(self) -> int:
        steps = self.steps or [100]
        return int(steps[min(self.step_index, len(steps) - 1)])

    @property
    def last_step(self) -> bool:
        return self.step_index >= len(self.steps) - 1
