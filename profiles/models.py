"""Connector profiles: a project's configuration of one connector, pinned to versions."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from connectors.models import Connector, ConnectorVersion
from core.public_ids import public_id_field
from projects.models import Project


class ConnectorProfile(models.Model):
    public_id = public_id_field()
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="profiles")
    connector = models.ForeignKey(Connector, on_delete=models.PROTECT, related_name="profiles")
    name = models.CharField(max_length=100)
    # NULL: the default resolution. Otherwise a pin of profiles/pins.py, validated when set.
    pin = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 - null means "no pin"
    setup_values = models.JSONField(default=dict, blank=True, help_text="Non-secret setup fields.")
    # Secret setup fields as one MultiFernet token (JSON inside); never shown again in full.
    setup_secrets = models.TextField(blank=True, default="", editable=False)
    is_default = models.BooleanField(default=False)
    # A staged rollout in progress (written by the rollouts app, in the transaction of each of
    # its transitions): while ``rollout_key`` is set, a connection is served ``rollout_to``
    # when it is in the cohort (profiles.serving), else ``rollout_from``, whatever the pin
    # says. The row travels with every connection it serves, so no extra query finds it.
    rollout_key = models.UUIDField(null=True, blank=True, editable=False)
    rollout_from = models.ForeignKey(
        ConnectorVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rollout_to = models.ForeignKey(
        ConnectorVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rollout_percent = models.PositiveSmallIntegerField(default=0)
    # The gate's window: moves at each step and on resume (its tallies restart).
    rollout_window = models.PositiveIntegerField(default=0)
    rollout_include = models.JSONField(default=list, blank=True)  # connection public ids
    rollout_exclude = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["connector__key", "name"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(rollout_key__isnull=True, rollout_from__isnull=True, rollout_to__isnull=True)
                    | Q(
                        rollout_key__isnull=False,
                        rollout_from__isnull=False,
                        rollout_to__isnull=False,
                    )
                ),
                name="profile_rollout_complete",
            ),
            models.CheckConstraint(
                condition=Q(rollout_percent__lte=100), name="profile_rollout_percent_range"
            ),
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


class ServingTally(models.Model):
    """How many requests (actions and health checks) one version served on a profile in one
    window of a staged rollout, and how many of them failed: one upsert per request
    (profiles.services.serving_count), so the rollout's gate reads two rows whatever the
    number of requests."""

    profile = models.ForeignKey(ConnectorProfile, on_delete=models.CASCADE, related_name="+")
    rollout_key = models.UUIDField()
    gate_window = models.PositiveIntegerField()
    version_pk = models.BigIntegerField()
    requests = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rollout_key", "gate_window", "version_pk"], name="serving_tally_key"
            ),
            models.CheckConstraint(
                condition=Q(errors__lte=models.F("requests")), name="serving_tally_errors_le"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.errors}/{self.requests} on version {self.version_pk}"
