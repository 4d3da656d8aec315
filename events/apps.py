from django.apps import AppConfig


class EventsConfig(AppConfig):
    """The outbox of domain events and their delivery as webhooks."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "events"
