from django.apps import AppConfig


class RuntimeConfig(AppConfig):
    """Requests through a connection: actions of the resolved definition, the request log."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "runtime"
