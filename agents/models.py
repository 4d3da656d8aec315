"""Governance of agent tools: which of a profile's actions an AI agent may call over /mcp.

Without a switch an action follows the default: read-only actions (``actionType`` list or
get) are callable, every other one is not. A switch on the profile overrides the default for
all its connections; a switch on one connection overrides the profile's. Each switch is
written by ``agents.services`` (audited). The optional calls-per-minute limit is per profile
and counts per connection.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from connections.models import Connection
from profiles.models import ConnectorProfile


class AgentPolicy(models.Model):
    profile = models.OneToOneField(
        ConnectorProfile, on_delete=models.CASCADE, related_name="agent_policy"
    )
    # None: no limit. Counted per connection in the shared cache (Redis where configured).
    calls_per_minute = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "agent policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(calls_per_minute__isnull=True)
                | Q(calls_per_minute__gte=1, calls_per_minute__lte=100_000),
                name="agent_policy_limit_range",
            )
        ]

    def __str__(self) -> str:
        return f"agent policy of profile {self.profile_id}"


class AgentToolSwitch(models.Model):
    """One action enabled or disabled for agents, on a profile (``connection`` null) or on
    one of its connections (overriding the profile's switch and the default)."""

    profile = models.ForeignKey(
        ConnectorProfile, on_delete=models.CASCADE, related_name="agent_tool_switches"
    )
    connection = models.ForeignKey(
        Connection,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="agent_tool_switches",
    )
    action_id = models.CharField(max_length=100)
    enabled = models.BooleanField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "action_id"],
                condition=Q(connection__isnull=True),
                name="agent_switch_one_per_profile_action",
            ),
            models.UniqueConstraint(
                fields=["connection", "action_id"],
                condition=Q(connection__isnull=False),
                name="agent_switch_one_per_connection_action",
            ),
            models.CheckConstraint(condition=~Q(action_id=""), name="agent_switch_action_set"),
        ]

    def __str__(self) -> str:
        where = f"connection {self.connection_id}" if self.connection_id else "profile"
        return f"{self.action_id} {'on' if self.enabled else 'off'} ({where})"
