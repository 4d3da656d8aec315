from django.http import HttpRequest


class ReadOnlyAdmin:
    """Support staff and superusers look things up here; every write goes through the services
    (validation, business rules such as "an organization keeps an owner", the audit log) via
    the dashboard, the API or the commands."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
