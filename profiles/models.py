"""Connector profiles: a project's configuration of one connector, pinned to versions."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from connectors.models import Connector
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
