"""Django admin for support staff: profiles with their pins; secret setup fields never shown."""

from django.contrib import admin
from django.http import HttpRequest

from .models import ConnectorProfile
from .selectors import resolve_profile


@admin.register(ConnectorProfile)
class ConnectorProfileAdmin(admin.ModelAdmin):
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
        from .services import secret_keys_set

        return ", ".join(f"{k}: {v}" for k, v in secret_keys_set(obj).items()) or "none"

    # Pins and setup fields go through the service (validation, encryption, audit):
    # use the dashboard or the API. Support staff look, they do not edit.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
