from django.apps import AppConfig


class RolloutsConfig(AppConfig):
    """Moving accounts to new versions: profile migrations, reconnect notices."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "rollouts"
    verbose_name = "Rollouts"
