"""Django admin for support staff: look things up, never see secrets."""

from django.contrib import admin

from .admin_mixins import ReadOnlyAdmin
from .models import ApiKey, AuditEntry, Membership, Organization, Project, Team


class MembershipInline(ReadOnlyAdmin, admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Organization)
class OrganizationAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role", "organization"]
    search_fields = ["user__username", "user__email", "organization__name"]
    list_select_related = ["user", "organization"]
    autocomplete_fields = ["user", "organization"]


@admin.register(Team)
class TeamAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["name", "organization", "created_at"]
    list_filter = ["organization"]
    search_fields = ["name", "organization__name"]
    filter_horizontal = ["members"]
    list_select_related = ["organization"]


@admin.register(Project)
class ProjectAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["name", "slug", "organization", "immutable_versioning", "created_at"]
    list_filter = ["immutable_versioning", "organization"]
    search_fields = ["name", "slug", "organization__name"]
    list_select_related = ["organization"]


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Shows the prefix only; keys are created in the dashboard or with create_api_key."""

    list_display = ["name", "prefix", "project", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["project"]
    search_fields = ["name", "prefix", "project__slug"]
    list_select_related = ["project"]
    exclude = ["key_hash"]
    readonly_fields = [
        "project",
        "name",
        "prefix",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "actor_label",
        "action",
        "target_type",
        "target_repr",
        "project",
        "ip_address",
    ]
    list_filter = ["action", "target_type", "organization", "project"]
    search_fields = ["actor_label", "action", "target_repr", "target_id"]
    list_select_related = ["project"]
    date_hierarchy = "created_at"
