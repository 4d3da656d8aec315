"""Django admin for support staff: look connections up among a million, never see a secret.

Read-only like every admin of the project (writes go through the services). Two actions:

- "Run health check": any staff user who may view connections (the support group). It only
  records the result of a real request to the provider, as "Check now" does in the dashboard.
- "Mark needs re-authentication": superusers only. It changes what the end user must do
  (reconnect) and is a decision for the account's owners, not a lookup; support staff hold
  view permissions only, so they do not get it.
"""

from __future__ import annotations

from collections import Counter
from functools import cached_property
from typing import Any

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from profiles.models import ConnectorProfile
from projects.admin_mixins import ReadOnlyAdmin
from projects.crypto import DecryptionError
from projects.services import Actor, ServiceError

from . import selectors
from .models import Connection, ConnectionGrant, Status
from .services import connections as services
from .services.health import connections_check_health_bulk

# An action touches at most this many connections (each is a request or an audited write).
HEALTH_CHECK_LIMIT = 100
REAUTH_LIMIT = 500


class CappedCountPaginator(Paginator):
    """Counts no further than ``CAP`` rows: the changelist of a million connections never
    counts the whole table. Past the cap, narrow the list with search or filters."""

    CAP = selectors.COUNT_CAP

    @cached_property
    def count(self) -> int:
        connections: QuerySet[Connection] = self.object_list  # type: ignore[assignment]
        return selectors.count_capped(connections, cap=self.CAP)[0]


class ProfileFilter(admin.RelatedFieldListFilter):
    """Profiles named by project and connector too: "production" exists in many projects."""

    def field_choices(
        self, field: Any, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, Any]]:
        profiles = ConnectorProfile.objects.select_related("project", "connector").order_by(
            "project__slug", "connector__key", "name"
        )
        return [(str(p.pk), f"{p.project.slug} · {p.connector.key} · {p.name}") for p in profiles]


class ConnectionGrantInline(ReadOnlyAdmin, admin.TabularInline):
    model = ConnectionGrant
    extra = 0
    fields = ("subject_type", "user", "team", "role", "created_at")
    readonly_fields = fields


@admin.register(Connection)
class ConnectionAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = [
        "id",
        "name",
        "origin_owner_id",
        "email",
        "connector",
        "profile",
        "status",
        "health",
        "version",
        "created_at",
    ]
    list_display_links = ["id", "name"]
    # The search itself is get_search_results (the dashboard's: a trigram index on PostgreSQL).
    search_fields = ["origin_owner_id", "email", "name", "origin_owner_name"]
    search_help_text = (
        "Owner id, name, username or email containing the text "
        "(one or two characters: owner id or name starting with it)."
    )
    # Plain related filters: they list the (few) profiles and connectors, never DISTINCT over
    # the connections table as RelatedOnlyFieldListFilter would.
    list_filter = ["status", "health", "connector", ("profile", ProfileFilter)]
    list_select_related = ["connector", "profile", "resolved_version"]
    # The primary key follows creation order and serves the sort from its index at any size.
    ordering = ["-id"]
    show_full_result_count = False
    paginator = CappedCountPaginator
    list_per_page = 50
    inlines = [ConnectionGrantInline]
    actions = ["run_health_check", "mark_needs_reauth"]
    # Never config_secrets, oauth_tokens or search_text: credentials shows secrets masked.
    exclude = ["config_secrets", "oauth_tokens"]
    fields = (
        "project",
        "profile",
        "connector",
        "name",
        "origin_owner_id",
        "origin_owner_name",
        "origin_username",
        "email",
        "status",
        "org_role",
        "resolved_version",
        "config_values",
        "credentials",
        "token_expires_at",
        "last_used_at",
        "health",
        "health_checked_at",
        "last_healthy_at",
        "health_error",
        "moved_from_profile",
        "moved_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Connection]:
        # The changelist skips list_select_related once the queryset has a select_related,
        # so it is applied here, without the versions' definitions (large, never listed).
        return (
            super()
            .get_queryset(request)
            .select_related(*self.list_select_related)
            .defer("resolved_version__definition")
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Connection], search_term: str
    ) -> tuple[QuerySet[Connection], bool]:
        if not search_term.strip():
            return queryset, False
        return queryset.filter(selectors.search_q(search_term)), False

    @admin.display(description="Resolved version", ordering="resolved_version__version_key")
    def version(self, obj: Connection) -> str:
        return obj.resolved_version.version if obj.resolved_version else "—"

    @admin.display(description="Credentials")
    def credentials(self, obj: Connection) -> str:
        """Config values as stored, secrets masked (••••1234): the dashboard's rule."""
        try:
            rows = selectors.credentials_masked(obj)
        except DecryptionError:
            return "(stored secrets cannot be decrypted with the configured keys)"
        if not rows:
            return "none"
        return format_html(
            "<ul class='mb-0'>{}</ul>",
            format_html_join(
                "",
                "<li>{}: <code>{}</code>{}</li>",
                ((label, value, " (secret)" if secret else "") for label, value, secret in rows),
            ),
        )

    # --- Actions ---------------------------------------------------------------------------

    def has_mark_reauth_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_check_health_permission(self, request: HttpRequest) -> bool:
        """A health check calls the provider with the stored credentials and writes the
        outcome: not for view-only support staff (their group holds view permissions only)."""
        user = request.user
        return bool(
            user.is_active and (user.is_superuser or user.has_perm("connections.change_connection"))
        )

    def _limited(
        self, request: HttpRequest, queryset: QuerySet[Connection], limit: int, what: str
    ) -> list[Connection] | None:
        rows = list(
            queryset.select_related("project__organization", "profile", "connector")[: limit + 1]
        )
        if len(rows) > limit:
            self.message_user(
                request,
                f"Select at most {limit} connections to {what} at once "
                "(narrow the list with search or filters).",
                messages.ERROR,
            )
            return None
        return rows

    @admin.action(description="Run health check", permissions=["check_health"])
    def run_health_check(self, request: HttpRequest, queryset: QuerySet[Connection]) -> None:
        rows = self._limited(request, queryset, HEALTH_CHECK_LIMIT, "check")
        if rows is None:
            return
        disabled = sum(1 for row in rows if row.status == Status.DISABLED)
        checkable = [row for row in rows if row.status != Status.DISABLED]
        results = connections_check_health_bulk(
            actor=Actor.from_request(request), connections=checkable
        )
        tally = Counter(result.status for result in results.values())
        summary = ", ".join(f"{n} {status}" for status, n in sorted(tally.items())) or "none"
        message = f"Checked {len(results)} connection{'s' if len(results) != 1 else ''}: {summary}"
        if disabled:
            message += f"; {disabled} disabled left alone (never checked)"
        self.message_user(request, message + ".", messages.SUCCESS)

    @admin.action(description="Mark needs re-authentication", permissions=["mark_reauth"])
    def mark_needs_reauth(self, request: HttpRequest, queryset: QuerySet[Connection]) -> None:
        rows = self._limited(request, queryset, REAUTH_LIMIT, "mark")
        if rows is None:
            return
        actor = Actor.from_request(request)
        marked = unchanged = disabled = 0
        for connection in rows:
            if connection.status == Status.DISABLED:
                disabled += 1  # switched off on purpose: re-enable it in the dashboard first
                continue
            if connection.status == Status.NEEDS_REAUTH:
                unchanged += 1
                continue
            try:
                services.connection_set_status(
                    actor=actor, connection=connection, status=Status.NEEDS_REAUTH
                )
            except ServiceError as exc:
                self.message_user(request, f"{connection}: {exc.message}", messages.ERROR)
                continue
            marked += 1
        parts = [
            f"Marked {marked} connection{'s' if marked != 1 else ''} as needing re-authentication"
        ]
        if unchanged:
            parts.append(f"{unchanged} already did")
        if disabled:
            parts.append(f"{disabled} disabled left alone")
        self.message_user(request, "; ".join(parts) + ".", messages.SUCCESS)
