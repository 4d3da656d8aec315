"""Tenancy: organizations, members, teams, projects, project API keys and the audit log."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse

from core.public_ids import public_id_field

slug_validator = RegexValidator(
    r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
    "Use lowercase letters, digits and single hyphens (e.g. acme-production).",
)


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


# Higher rank = more rights. Writing needs MEMBER, managing the organization needs ADMIN.
ROLE_RANK = {Role.VIEWER: 1, Role.MEMBER: 2, Role.ADMIN: 3, Role.OWNER: 4}


class Organization(models.Model):
    slug = models.SlugField(max_length=63, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    # The member's id in API bodies (RBAC subjects): per organization, so that one user's ids
    # in two organizations cannot be linked.
    public_id = public_id_field()
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_unique_user"),
            models.CheckConstraint(
                condition=Q(role__in=[r.value for r in Role]), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"

    @property
    def rank(self) -> int:
        return ROLE_RANK[Role(self.role)]

    @property
    def can_write(self) -> bool:
        return self.rank >= ROLE_RANK[Role.MEMBER]

    @property
    def can_manage(self) -> bool:
        return self.rank >= ROLE_RANK[Role.ADMIN]


class Team(models.Model):
    public_id = public_id_field()
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=100)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="teams")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="team_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class Project(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="projects"
    )
    slug = models.SlugField(max_length=63, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    immutable_versioning = models.BooleanField(
        default=True,
        help_text="When on, a published custom version can never be overwritten.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization__name", "name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("project_home", args=[self.slug])


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def active(self) -> ApiKeyQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiKeyScope(models.TextChoices):
    """What a key may do (docs/api.md "Authentication"): ``full`` everything, ``read``
    GET/HEAD/OPTIONS only, ``agent`` the MCP endpoint (``/mcp``) only: the JSON API refuses it
    with 403."""

    FULL = "full", "Full access"
    READ = "read", "Read only"
    AGENT = "agent", "AI agents (MCP only)"


class ApiKey(models.Model):
    """A project API key. Only a SHA-256 digest of the key is stored; the key is shown once."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=8, choices=ApiKeyScope.choices, default=ApiKeyScope.FULL)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"
        constraints = [
            models.CheckConstraint(
                condition=Q(scope__in=[s.value for s in ApiKeyScope]), name="api_key_scope_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def can_write(self) -> bool:
        return self.scope == ApiKeyScope.FULL

    @property
    def can_use_api(self) -> bool:
        """The JSON API: every scope but ``agent``."""
        return self.scope != ApiKeyScope.AGENT

    @property
    def can_use_mcp(self) -> bool:
        """The MCP endpoint: ``agent`` and ``full`` keys."""
        return self.scope in (ApiKeyScope.AGENT, ApiKeyScope.FULL)


class AuditEntry(models.Model):
    """Who did what to which object, with before → after. Never holds secret values."""

    # Both empty for platform-wide actions (built-in connector versions).
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="audit_entries",
    )
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="audit_entries"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, help_text="User name, API key prefix or system")
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            # The audit log pages walk these newest-first with a keyset cursor on id.
            models.Index(fields=["organization", "-id"], name="audit_org_recent"),
            models.Index(fields=["project", "-id"], name="audit_project_recent"),
            # A connection's (or any object's) activity on its own page.
            models.Index(fields=["target_type", "target_id", "-id"], name="audit_target_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.target_repr}"


class UserPreference(models.Model):
    """A dashboard user's own settings: the time zone times are shown in (UTC by default) and
    the columns chosen per table."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dashboard_preference"
    )
    time_zone = models.CharField(max_length=64, default="UTC")
    columns = models.JSONField(default=dict, blank=True, help_text="table name → column keys")

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"
