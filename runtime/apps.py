from django.apps import AppConfig

from connections import extensions as connection_pages
from connectors import extensions as connector_pages


class RuntimeConfig(AppConfig):
    """Requests through a connection: actions of the resolved definition, the request log."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "runtime"
    verbose_name = "Runtime"

    def ready(self) -> None:
        from . import panels

        connector_pages.version_page.register(panels.version_panels)
        connection_pages.connection_page.register(panels.connection_panels)
