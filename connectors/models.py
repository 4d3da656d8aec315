"""Connectors and their semver-numbered versions (built-in or owned by one project)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q

from projects.models import Project

from .versioning import MAX_VERSION_LENGTH, parse_version, version_key

connector_key_validator = RegexValidator(
    r"^[a-z][a-z0-9_]{1,63}$", "Lowercase letters, digits and underscores, starting with a letter."
)

PLATFORM_OWNER = "platform"


class ChangeLevel(models.TextChoices):
    INITIAL = "initial", "Initial"
    MAJOR = "major", "Major"
    MINOR = "minor", "Minor"
    PATCH = "patch", "Patch"


class Connector(models.Model):
    key = models.CharField(max_length=64, unique=True, validators=[connector_key_validator])
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    icon_url = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.key


class ConnectorVersionQuerySet(models.QuerySet["ConnectorVersion"]):
    def visible_to(self, project: Project) -> ConnectorVersionQuerySet:
        """Built-in versions plus this project's own custom versions (drafts included)."""
        return self.filter(Q(project__isnull=True) | Q(project=project))

    def published(self) -> ConnectorVersionQuerySet:
        return self.filter(published_at__isnull=False)

    def highest_first(self) -> ConnectorVersionQuerySet:
        """Highest version first; on equal numbers the project's custom version first."""
        return self.order_by("-version_key", _CUSTOM_FIRST)

    def custom_first(self, *then: str) -> ConnectorVersionQuerySet:
        """The project's custom versions before built-in ones, then by ``then``."""
        return self.order_by(_CUSTOM_FIRST, *then)

    def published_first(self) -> ConnectorVersionQuerySet:
        """Published versions before drafts; on a tie the project's custom version first."""
        return self.order_by(F("published_at").asc(nulls_last=True), _CUSTOM_FIRST)


# A project's custom version (project set) before a built-in one (NULL) on every database.
_CUSTOM_FIRST = F("project_id").desc(nulls_last=True)


class ConnectorVersion(models.Model):
    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="versions")
    # NULL: a built-in version published by the platform, visible to every project.
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="connector_versions"
    )
    version = models.CharField(max_length=MAX_VERSION_LENGTH)
    version_key = models.BinaryField(max_length=512, editable=False)
    major = models.PositiveBigIntegerField(editable=False)
    minor = models.PositiveBigIntegerField(editable=False)
    patch = models.PositiveBigIntegerField(editable=False)
    is_prerelease = models.BooleanField(editable=False, default=False)
    published_at = models.DateTimeField(null=True, blank=True)
    description = models.TextField(blank=True, help_text="What changed (changelog).")
    definition = models.JSONField()
    # [[file name, YAML text], ...], main file first (a list: jsonb would reorder an object).
    source_files = models.JSONField(default=list)
    messages = models.JSONField(default=list)
    change_level = models.CharField(max_length=8, choices=ChangeLevel.choices)
    change_report = models.JSONField(default=dict)
    reauth_required = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ConnectorVersionQuerySet.as_manager()

    class Meta:
        ordering = ["connector", "-version_key"]
        constraints = [
            models.UniqueConstraint(
                fields=["connector", "version"],
                condition=Q(project__isnull=True),
                name="connector_version_unique_builtin",
            ),
            models.UniqueConstraint(
                fields=["connector", "project", "version"],
                condition=Q(project__isnull=False),
                name="connector_version_unique_custom",
            ),
            models.CheckConstraint(
                condition=Q(change_level__in=[c.value for c in ChangeLevel]),
                name="connector_version_change_level_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["connector", "project", "-version_key"], name="cv_precedence"),
            models.Index(fields=["connector", "-updated_at", "-id"], name="cv_recently_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.connector.key} {self.version}"

    @property
    def builtin(self) -> bool:
        return self.project_id is None

    @property
    def owner(self) -> str:
        return PLATFORM_OWNER if self.project is None else self.project.slug

    @property
    def is_draft(self) -> bool:
        return self.published_at is None

    def set_version(self, value: str) -> None:
        """Set the number and everything derived from it (sort key, components)."""
        parsed = parse_version(value)
        self.version = str(parsed)
        self.version_key = version_key(parsed)
        self.major, self.minor, self.patch = parsed.major, parsed.minor, parsed.patch
        self.is_prerelease = bool(parsed.prerelease)

    @property
    def title(self) -> str:
        """The connector's name as this version words it: the definition's ``info.title``, else
        the connector's display title (the project's view of it, annotated by
        ``selectors.connectors_for_project``; else the shared row's title), else its key."""
        info = self.definition.get("info") if isinstance(self.definition, dict) else None
        title = info.get("title") if isinstance(info, dict) else None
        if title:
            return str(title)  # without loading the connector
        connector = self.connector
        return str(getattr(connector, "display_title", "") or connector.title or connector.key)

    @property
    def icon(self) -> str:
        """The definition's ``info.assets.icon`` (a URL), or ""."""
        info = self.definition.get("info") if isinstance(self.definition, dict) else None
        assets = info.get("assets") if isinstance(info, dict) else None
        icon = assets.get("icon") if isinstance(assets, dict) else None
        return str(icon) if icon else ""

    @property
    def authentication(self) -> dict[str, Any]:
        auth = self.definition.get("authentication")
        return auth if isinstance(auth, dict) else {}

    @property
    def actions(self) -> list[dict[str, Any]]:
        actions = self.definition.get("actions")
        return actions if isinstance(actions, list) else []
