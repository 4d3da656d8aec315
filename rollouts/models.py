"""Rollouts: moving the connections of one profile to another after a breaking release.

A ``ProfileMigration`` tracks the move (pending: still on the old profile; migrated: moved by
re-authentication since it started); a ``MigrationNotice`` is one pending account's current
reconnect link and how often it was sent.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from connections.models import Connection, ConnectSession
from core.public_ids import public_id_field
from profiles.models import ConnectorProfile
from projects.models import Project


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
