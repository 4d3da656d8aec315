from django.apps import AppConfig

from projects import extensions as project_pages


class ConnectionsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "connections"

    def ready(self) -> None:
        from . import panels

        project_pages.overview.register(panels.overview_connections)
