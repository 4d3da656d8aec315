"""Connector profiles: a project's configuration of one connector, pinned to versions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from connectors.models import Connector
from projects.models import Project


class ConnectorProfile(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="profiles")
    connector = models.ForeignKey(Connector, on_delete=models.PROTECT, related_name="profiles")
    name = models.CharField(max_length=100)
    # NULL: the default resolution. Otherwise a pin of profiles/pins.py, validated when set.
    pin = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 - null means "no pin"
    setup_values = models.JSONField(default=dict, blank=True, help_text="Non-secret setup fields.")
    # Secret setup fields as one MultiFernet token (JSON inside); never shown again in full.
    setup_secrets = models.TextField(blank=True, default="", editable=False)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["connector__key", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "connector", "name"], name="profile_unique_name"
            ),
            models.UniqueConstraint(
                fields=["project", "connector"],
                condition=Q(is_default=True),
                name="profile_one_default_per_connector",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ProfileMigration(models.Model):
    """The tracked move of the connections on an old profile to a new one (after a breaking
    release). Pending: connections still on ``from_profile``. Migrated: connections moved
    from it to ``to_profile`` by re-authentication since ``started_at``."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="migrations")
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
        "connections.Connection", on_delete=models.CASCADE, related_name="migration_notices"
    )
    session = models.ForeignKey(
        "connections.ConnectSession",
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
