from django.apps import AppConfig

from connections.signals import profile_connections_changed


class RolloutsConfig(AppConfig):
    """Moving accounts to new versions: profile migrations, reconnect notices."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "rollouts"
    verbose_name = "Rollouts"

    def ready(self) -> None:
        from . import selectors

        profile_connections_changed.connect(
            selectors.forget_progress_on_change, dispatch_uid="rollouts.forget_progress"
        )
