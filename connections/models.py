"""Connections (linked accounts): an end user's authorised account on one connector profile.

Secrets (secret config fields, OAuth tokens) are stored as MultiFernet tokens only; the
plain columns hold nothing an attacker with a database dump could use.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Concat, Lower

from connectors.models import Connector, ConnectorVersion
from core.pager import EPOCH, sort_key
from core.public_ids import public_id_field
from profiles.models import ConnectorProfile
from projects.models import Project, Team


class Status(models.TextChoices):
    ACTIVE = "active", "Active"
    NEEDS_REAUTH = "needs_reauth", "Needs re-authentication"
    ERROR = "error", "Error"
    DISABLED = "disabled", "Disabled"


class Health(models.TextChoices):
    UNKNOWN = "unknown", "Not checked"
    HEALTHY = "healthy", "Healthy"
    UNHEALTHY = "unhealthy", "Unhealthy"
    NEEDS_REAUTH = "needs_reauth", "Needs re-authentication"


class GrantRole(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    EDITOR = "editor", "Editor"
    OWNER = "owner", "Owner"


class OrgRole(models.TextChoices):
    """The organization-level role: what every member of the organization gets."""

    NONE = "", "None"
    VIEWER = "viewer", "Viewer"
    EDITOR = "editor", "Editor"


GRANT_RANK = {"": 0, GrantRole.VIEWER: 1, GrantRole.EDITOR: 2, GrantRole.OWNER: 3}


class SubjectType(models.TextChoices):
    USER = "user", "User"
    TEAM = "team", "Team"


class Connection(models.Model):
    public_id = public_id_field()
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="connections")
    profile = models.ForeignKey(
        ConnectorProfile, on_delete=models.PROTECT, related_name="connections"
    )
    # The profile's connector, copied so that lists filter on it without a join.
    connector = models.ForeignKey(Connector, on_delete=models.PROTECT, related_name="+")
    origin_owner_id = models.CharField(max_length=255, help_text="The end user's id in your app.")
    origin_owner_name = models.CharField(max_length=255, blank=True)
    origin_username = models.CharField(max_length=255, blank=True)
    email = models.CharField(max_length=254, blank=True)
    name = models.CharField(max_length=200, help_text="Display name.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # Non-secret config-field values; secret ones live encrypted in config_secrets.
    config_values = models.JSONField(default=dict, blank=True)
    config_secrets = models.TextField(blank=True, default="", editable=False)
    # access_token, refresh_token, expires_at (epoch seconds), scopes: one MultiFernet token.
    oauth_tokens = models.TextField(blank=True, default="", editable=False)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    # The last successful refresh (the scheduler refreshes at least daily: some providers' refresh
    # tokens die when unused); null until the first one (the creation time stands in).
    tokens_refreshed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Backoff of the scheduler's work (connections.services.backoff): failures in a row of
    # the token refresh and of the health check, and when each may next be tried (null: when
    # due by the usual rule). A success resets both of its pair. The database default too:
    # bulk loads (seed_bench's COPY) name only the columns they fill.
    refresh_failures = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    refresh_retry_at = models.DateTimeField(null=True, blank=True, editable=False)
    health_failures = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    health_retry_at = models.DateTimeField(null=True, blank=True, editable=False)
    resolved_version = models.ForeignKey(
        ConnectorVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    health = models.CharField(max_length=16, choices=Health.choices, default=Health.UNKNOWN)
    health_checked_at = models.DateTimeField(null=True, blank=True)
    last_healthy_at = models.DateTimeField(null=True, blank=True)
    health_error = models.CharField(max_length=500, blank=True)
    org_role = models.CharField(max_length=8, choices=OrgRole.choices, default="", blank=True)
    moved_from_profile = models.ForeignKey(
        ConnectorProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    moved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # What the list's search box matches (owner id, names, email), lower-cased; on PostgreSQL a
    # trigram index (migration 0002) serves "contains" searches over a million rows.
    search_text = models.GeneratedField(
        expression=Lower(
            Concat(
                "origin_owner_id",
                Value(" "),
                "name",
                Value(" "),
                "origin_owner_name",
                Value(" "),
                "origin_username",
                Value(" "),
                "email",
            )
        ),
        output_field=models.TextField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in Status]), name="connection_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(health__in=[h.value for h in Health]), name="connection_health_valid"
            ),
            models.CheckConstraint(
                condition=Q(org_role__in=[r.value for r in OrgRole]),
                name="connection_org_role_valid",
            ),
            # What a grant copies of its connection (ConnectionGrant.project,
            # .connection_created_at, .connection_org_role) refers to this key: on PostgreSQL
            # a foreign key that follows every change of it (migration 0012).
            models.UniqueConstraint(
                fields=["id", "project", "created_at", "org_role"],
                name="conn_id_project_created_role",
            ),
        ]
        # The list pages walk one of these from the top with a keyset cursor, so a page costs
        # the same at row 50 and at row 500,000.
        indexes = [
            models.Index(fields=["project", "-created_at", "-id"], name="conn_project_created"),
            models.Index(fields=["project", "-updated_at", "-id"], name="conn_project_updated"),
            models.Index(fields=["project", "name", "id"], name="conn_project_name"),
            # "Last used" / "Last checked": NULL ("never") sorts as the epoch, the oldest.
            models.Index(
                F("project"),
                sort_key("last_used_at", EPOCH).desc(),
                F("id").desc(),
                name="conn_project_used",
            ),
            models.Index(
                F("project"),
                sort_key("health_checked_at", EPOCH).desc(),
                F("id").desc(),
                name="conn_project_checked",
            ),
            models.Index(
                fields=["project", "status", "-created_at", "-id"], name="conn_project_status"
            ),
            models.Index(fields=["profile", "-created_at", "-id"], name="conn_profile_created"),
            models.Index(fields=["connector", "-created_at", "-id"], name="conn_connector_created"),
            models.Index(fields=["resolved_version", "-created_at"], name="conn_version_created"),
            models.Index(fields=["project", "origin_owner_id"], name="conn_project_owner"),
            # The scheduler's due tokens: OAuth connections only, soonest expiry first.
            models.Index(
                fields=["token_expires_at"],
                condition=~Q(oauth_tokens=""),
                name="conn_token_expiry",
            ),
            # Profile migrations: the migrated accounts' count, daily chart and newest
            # first list read this index alone (moved rows only, so it stays small).
            models.Index(
                fields=["moved_from_profile", "profile", "-moved_at", "-id"],
                condition=Q(moved_from_profile__isnull=False),
                name="conn_moved_from",
            ),
            models.Index(
                fields=["project", "org_role"],
                condition=~Q(org_role=""),
                name="conn_project_org_role",
            ),
            # A member's list pages through the rows open to the organization in order
            # (selectors.visible_parts): small, since they cover only those rows.
            models.Index(
                fields=["project", "-created_at", "-id"],
                condition=~Q(org_role=""),
                name="conn_open_created",
            ),
            models.Index(
                fields=["project", "-updated_at", "-id"],
                condition=~Q(org_role=""),
                name="conn_open_updated",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.origin_owner_id

    @property
    def is_oauth(self) -> bool:
        return bool(self.oauth_tokens)


class ConnectionGrant(models.Model):
    """Per-connection access: a user or a team gets viewer, editor or owner."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="grants")
    subject_type = models.CharField(max_length=8, choices=SubjectType.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="connection_grants",
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="connection_grants"
    )
    role = models.CharField(max_length=8, choices=GrantRole.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    # Copies of the connection's project, creation time and organization-level role, so that
    # a member's list orders and counts their granted connections from the grants it reads
    # anyway, without visiting every granted connection's row (connections.selectors.
    # page_counted). Filled on save; on PostgreSQL a foreign key on (connection, project,
    # connection_created_at, connection_org_role) to the connection's (id, project,
    # created_at, org_role), ON UPDATE CASCADE, keeps them equal whatever changes the
    # connection (migration 0012).
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", editable=False)
    connection_created_at = models.DateTimeField(editable=False)
    connection_org_role = models.CharField(max_length=8, blank=True, editable=False)

    class Meta:
        ordering = ["subject_type", "id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "user"], name="grant_unique_user"),
            models.UniqueConstraint(fields=["connection", "team"], name="grant_unique_team"),
            models.CheckConstraint(
                condition=(
                    Q(subject_type="user", user__isnull=False, team__isnull=True)
                    | Q(subject_type="team", team__isnull=False, user__isnull=True)
                ),
                name="grant_one_subject",
            ),
            models.CheckConstraint(
                condition=Q(role__in=[r.value for r in GrantRole]), name="grant_role_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["user", "connection"], name="grant_user_connection"),
            models.Index(fields=["team", "connection"], name="grant_team_connection"),
        ]

    def __str__(self) -> str:
        subject = self.user if self.subject_type == SubjectType.USER else self.team
        return f"{subject}: {self.role}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._state.adding and self.connection_id is not None:
            self.project_id = self.connection.project_id
            self.connection_created_at = self.connection.created_at
            self.connection_org_role = self.connection.org_role
        super().save(*args, **kwargs)

    @property
    def subject_id(self) -> int | None:
        return self.user_id if self.subject_type == SubjectType.USER else self.team_id


class ConnectSession(models.Model):
    """A short-lived, single-use link that opens the hosted connect page for one end user.

    Only a SHA-256 digest of the token is stored. With ``account`` set it re-authenticates
    that connection (moving it to ``profile`` when that differs from its own)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="connect_sessions")
    profile = models.ForeignKey(
        ConnectorProfile, on_delete=models.CASCADE, related_name="connect_sessions"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    origin_owner_id = models.CharField(max_length=255)
    origin_owner_name = models.CharField(max_length=255, blank=True)
    origin_username = models.CharField(max_length=255, blank=True)
    email = models.CharField(max_length=254, blank=True)
    account = models.ForeignKey(
        Connection,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="reauth_sessions",
        help_text="The connection this session re-authenticates.",
    )
    expires_at = models.DateTimeField()
    created_by_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)
    connection = models.ForeignKey(
        Connection,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The connection saved through this session.",
    )
    # The OAuth attempt in flight: digest of its single-use state, the PKCE verifier
    # (encrypted), and when the state was consumed by a callback.
    oauth_state_hash = models.CharField(max_length=64, blank=True, db_index=True)
    oauth_verifier = models.TextField(blank=True, default="", editable=False)
    oauth_state_used_at = models.DateTimeField(null=True, blank=True)
    # Where the page sends the end user afterwards (origins on the project's allow-list, see
    # ConnectBranding) and the page's language; both chosen when the session is created.
    success_url = models.CharField(max_length=2000, blank=True)
    error_url = models.CharField(max_length=2000, blank=True)
    locale = models.CharField(max_length=10, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["project", "-created_at"], name="connect_project_recent")]

    def __str__(self) -> str:
        return f"connect session for {self.origin_owner_id}"


class ConnectionCount(models.Model):
    """How many connections are on one profile, resolved to one version, in one status and one
    health: kept by ``connections.counters`` in the transaction of every write that creates,
    moves, deletes or changes a connection, so that counting costs the same at any number of
    rows.

    ``version_pk`` is the resolved version's id, 0 for none (a plain integer, not a foreign
    key: a unique key over a nullable column would not match its NULL rows)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="+")
    profile = models.ForeignKey(ConnectorProfile, on_delete=models.CASCADE, related_name="+")
    version_pk = models.BigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices)
    health = models.CharField(max_length=16, choices=Health.choices, default=Health.UNKNOWN)
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "version_pk", "status", "health"],
                name="connection_count_key_health",
            ),
            models.CheckConstraint(condition=Q(n__gte=0), name="connection_count_not_negative"),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in Status]),
                name="connection_count_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(health__in=[h.value for h in Health]),
                name="connection_count_health_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "connector", "version_pk"], name="conn_count_project")
        ]

    def __str__(self) -> str:
        return f"{self.profile_id}/{self.version_pk}/{self.status}: {self.n}"


class Theme(models.TextChoices):
    AUTO = "auto", "Auto (follows the device)"
    LIGHT = "light", "Light"
    DARK = "dark", "Dark"


class ConnectBranding(models.Model):
    """How a project's hosted connect pages look to its end users, and which of the project's
    own origins the pages may send them back to, talk to (postMessage) and be framed by.

    The logo is stored here (re-encoded PNG, at most ``MAX_LOGO_BYTES``) and served from
    ``/connect/logo/...``: the end user's browser never loads a customer-supplied URL."""

    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, related_name="connect_branding"
    )
    display_name = models.CharField(max_length=80, blank=True)
    logo = models.BinaryField(blank=True, default=b"", editable=False)
    logo_sha256 = models.CharField(max_length=64, blank=True, editable=False, db_index=True)
    primary_color = models.CharField(max_length=7, blank=True)
    theme = models.CharField(max_length=8, choices=Theme.choices, default=Theme.AUTO)
    terms_url = models.CharField(max_length=500, blank=True)
    privacy_url = models.CharField(max_length=500, blank=True)
    support_email = models.CharField(max_length=254, blank=True)
    allowed_origins = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(primary_color="") | Q(primary_color__regex=r"^#[0-9a-f]{6}$"),
                name="branding_primary_color_hex",
            ),
            models.CheckConstraint(
                condition=Q(theme__in=["auto", "light", "dark"]), name="branding_theme_known"
            ),
        ]

    def __str__(self) -> str:
        return f"connect page branding of {self.project_id}"


class HealthCheck(models.Model):
    """Every health check of a connection (the row keeps only the last): its outcome, the host
    it called and the error class when it failed. Shown in the connection's timeline."""

    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="health_checks"
    )
    checked_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Health.choices)
    detail = models.CharField(max_length=500, blank=True)
    host = models.CharField(max_length=255, blank=True)
    error_class = models.CharField(max_length=100, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["connection", "-checked_at", "-id"], name="health_recent")]

    def __str__(self) -> str:
        return f"{self.status} {self.checked_at:%Y-%m-%d %H:%M}"


class BulkRun(models.Model):
    """A bulk action on every connection matching the list's filters ("select all N
    matching"), run as a background task: its progress and, when done, its summary."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="connection_bulk_runs"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    public_id = public_id_field()
    action = models.CharField(max_length=32)
    query = models.CharField(max_length=2000, blank=True, help_text="the list's filters")
    total = models.PositiveIntegerField()
    processed = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    # Of ``done``: how many ended badly (a health check that found the connection unhealthy
    # or refused): the progress bar is red when all did, amber when some did.
    failed = models.PositiveIntegerField(default=0)
    summary = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    LABELS = {"check_health": "Check health", "disable": "Disable", "enable": "Enable"}

    def __str__(self) -> str:
        return f"{self.action} {self.processed}/{self.total}"

    @property
    def label(self) -> str:
        """The action as the list's menu names it ("Check health", not "Check_health")."""
        return self.LABELS.get(self.action, self.action.replace("_", " ").capitalize())

    @property
    def outcome(self) -> str:
        """ok, some (failed) or all (failed), for the finished run's bar."""
        if not self.failed:
            return "ok"
        return "all" if self.failed >= self.done else "some"

    @property
    def active(self) -> bool:
        return self.finished_at is None

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, int(self.processed * 100 / self.total))
