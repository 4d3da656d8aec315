"""The request log: one row per execution of an action through a connection.

Metadata only (docs/api.md "Connections"): which action, which version served it, the
outcome, the provider's status and the duration. Never the inputs, a body or a credential. Kept for
``RUNTIME_REQUEST_LOG_RETENTION_DAYS`` (``prune_request_log``).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from connections.models import Connection
from connectors.models import ConnectorVersion


class RequestStatus(models.TextChoices):
    OK = "ok", "OK"
    ERROR = "error", "Error"


class Channel(models.TextChoices):
    """Where a request came in: the JSON API (and the dashboard's Try it) or an AI agent over
    the MCP endpoint."""

    API = "api", "API"
    MCP = "mcp", "MCP"


class RequestLog(models.Model):
    request_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="requests")
    action_id = models.CharField(max_length=100)
    # The version that served it (SET_NULL: a deleted version keeps its number here).
    version = models.ForeignKey(
        ConnectorVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    version_number = models.CharField(max_length=255, blank=True)
    builtin = models.BooleanField(default=False)
    status = models.CharField(max_length=8, choices=RequestStatus.choices)
    http_status = models.PositiveSmallIntegerField()
    provider_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField()
    error_code = models.CharField(max_length=40, blank=True)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.API)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in RequestStatus]),
                name="request_log_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(channel__in=[c.value for c in Channel]),
                name="request_log_channel_valid",
            ),
            models.CheckConstraint(
                condition=Q(http_status__gte=100, http_status__lte=599),
                name="request_log_http_status_range",
            ),
        ]
        indexes = [
            # The connection page's Requests tab (newest first, keyset), filtered or not.
            models.Index(fields=["connection", "-created_at", "-id"], name="reqlog_connection"),
            models.Index(
                fields=["connection", "action_id", "-created_at", "-id"], name="reqlog_conn_action"
            ),
            # The connection's timeline: its failed requests, newest first.
            models.Index(
                fields=["connection", "status", "-created_at", "-id"], name="reqlog_conn_status"
            ),
            # The profile's MCP calls of the last 24 h (the Agent tools tab).
            models.Index(
                fields=["created_at"],
                condition=Q(channel="mcp"),
                name="reqlog_mcp_recent",
            ),
            # The version page's counts over 24 h / 7 d.
            models.Index(fields=["version", "created_at", "status"], name="reqlog_version"),
        ]

    def __str__(self) -> str:
        return f"{self.action_id} {self.status} ({self.request_id})"
