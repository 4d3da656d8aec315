from django.apps import AppConfig

from connectors.signals import version_deleting
from profiles import extensions as profile_pages


class ConnectionsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "connections"

    def ready(self) -> None:
        from . import counters, panels

        version_deleting.connect(
            counters.version_deleting, dispatch_uid="connections.counters.version_deleting"
        )
        profile_pages.pin_change.register(panels.profile_connection_count)
