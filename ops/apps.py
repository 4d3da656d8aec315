from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Commands that touch every layer: the demo, key rotation, benchmark databases."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "ops"
    verbose_name = "Operations"
