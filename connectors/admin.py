"""Django admin for support staff: connectors and versions, read-mostly."""

from django.contrib import admin

from projects.admin_mixins import ReadOnlyAdmin

from .models import Connector, ConnectorVersion


@admin.register(Connector)
class ConnectorAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["key", "title", "created_at", "updated_at"]
    search_fields = ["key", "title", "description"]


@admin.register(ConnectorVersion)
class ConnectorVersionAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Versions are published through the dashboard, the API or push_connector; never here."""

    list_display = [
        "connector",
        "version",
        "owner_label",
        "published_at",
        "change_level",
        "reauth_required",
        "updated_at",
    ]
    list_filter = ["change_level", "reauth_required", ("project", admin.EmptyFieldListFilter)]
    search_fields = ["connector__key", "version", "project__slug"]
    list_select_related = ["connector", "project"]
    ordering = ["connector__key", "-version_key"]
    readonly_fields = [
        "connector",
        "project",
        "version",
        "published_at",
        "description",
        "change_level",
        "reauth_required",
        "messages",
        "change_report",
        "definition",
        "source_files",
        "created_by",
        "created_at",
        "updated_at",
    ]
    exclude = ["version_key"]

    @admin.display(description="Owner", ordering="project__slug")
    def owner_label(self, obj: ConnectorVersion) -> str:
        return obj.owner
