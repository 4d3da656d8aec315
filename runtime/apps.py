from django.apps import AppConfig

from connections import extensions as connection_pages
from core import pruning


class RuntimeConfig(AppConfig):
    """Requests through a connection: actions of the resolved definition, the request log."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "runtime"
    verbose_name = "Runtime"

    def ready(self) -> None:
        from . import panels, services

        connection_pages.connection_page.register(panels.connection_panels)
        connection_pages.connection_timeline.register(panels.connection_timeline)
        # Old request-log rows go with the scheduler's daily pruning (ops/tasks.py).
        pruning.register(
            "request_log",
            services.request_log_prune_before,
            retention_setting="RUNTIME_REQUEST_LOG_RETENTION_DAYS",
        )
