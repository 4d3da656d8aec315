from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "projects"
    verbose_name = "Organizations and projects"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from .support import sync_support_group

        post_migrate.connect(sync_support_group)
