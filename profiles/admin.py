"""Django admin for support staff: profiles with their pins; secret setup fields never shown."""

from django.contrib import admin

from projects.admin_mixins import ReadOnlyAdmin

from .models import ConnectorProfile
from .selectors import resolve_profile
from .services import secret_keys_set


@admin.register(ConnectorProfile)
class ConnectorProfileAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["name", "connector", "project", "pin", "is_default", "updated_at"]
    list_filter = ["is_default", "connector", "project"]
    search_fields = ["name", "connector__key", "project__slug", "pin"]
    list_select_related = ["connector", "project"]
    readonly_fields = [
        "project",
        "connector",
        "pin",
        "resolved",
        "secret_fields",
        "created_at",
        "updated_at",
    ]
    fields = [
        "project",
        "connector",
        "name",
        "pin",
        "resolved",
        "is_default",
        "setup_values",
        "secret_fields",
        "created_at",
        "updated_at",
    ]

    @admin.display(description="Resolves to")
    def resolved(self, obj: ConnectorProfile) -> str:
        resolved = resolve_profile(obj)
        return f"{resolved.version} ({resolved.owner})" if resolved else "nothing"

    @admin.display(description="Secret setup fields")
    def secret_fields(self, obj: ConnectorProfile) -> str:
        return ", ".join(f"{k}: {v}" for k, v in secret_keys_set(obj).items()) or "none"
