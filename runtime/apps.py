from django.apps import AppConfig

from core import pruning


class RuntimeConfig(AppConfig):
    """Requests through a connection: actions of the resolved definition, the request log."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "runtime"
    verbose_name = "Runtime"

    def ready(self) -> None:
        from . import services

        # Old request-log rows go with the scheduler's daily pruning (ops/tasks.py).
        pruning.register(
            "request_log",
            services.request_log_prune_before,
            retention_setting="RUNTIME_REQUEST_LOG_RETENTION_DAYS",
        )
