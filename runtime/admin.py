from django.contrib import admin

from .models import RequestLog


@admin.register(RequestLog)
class RequestLogAdmin(admin.ModelAdmin):
    """Read-only: the log holds metadata only (no inputs, bodies or credentials)."""

    list_display = (
        "created_at",
        "action_id",
        "version_number",
        "status",
        "http_status",
        "provider_status",
        "duration_ms",
        "error_code",
    )
    list_filter = ("status", "builtin")
    search_fields = ("=request_id", "action_id")
    raw_id_fields = ("connection", "version")
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
