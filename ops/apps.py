from django.apps import AppConfig

from core import pruning


class OpsConfig(AppConfig):
    """Commands that touch every layer (the demo, key rotation, benchmark databases) and the
    operations endpoints: health, readiness, metrics, scheduled housekeeping."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from .pruners import prune_task_results

        pruning.register(
            "task_results", prune_task_results, retention_setting="TASK_RESULT_RETENTION_DAYS"
        )
