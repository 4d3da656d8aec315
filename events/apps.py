from django.apps import AppConfig

from projects import extensions as project_pages


class EventsConfig(AppConfig):
    """The outbox of domain events and their delivery as webhooks."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "events"

    def ready(self) -> None:
        from . import panels

        project_pages.overview.register(panels.overview)
