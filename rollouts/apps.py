from django.apps import AppConfig

from connections import extensions as connection_pages
from connections.signals import profile_connections_changed
from projects import extensions as project_pages


class RolloutsConfig(AppConfig):
    """Moving accounts to new versions: profile migrations, reconnect notices."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "rollouts"
    verbose_name = "Rollouts"

    def ready(self) -> None:
        from . import panels, selectors

        project_pages.overview.register(panels.overview_migrations)
        connection_pages.connection_page.register(panels.connection_migration)
        profile_connections_changed.connect(
            selectors.forget_progress_on_change, dispatch_uid="rollouts.forget_progress"
        )
