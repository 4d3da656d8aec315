from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "projects"
    verbose_name = "Organizations and projects"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_migrate

        from .preferences import load_on_login
        from .support import sync_support_group

        post_migrate.connect(sync_support_group)
        user_logged_in.connect(load_on_login, dispatch_uid="projects.time_zone_on_login")
