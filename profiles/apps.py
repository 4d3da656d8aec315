from django.apps import AppConfig

from connectors.signals import resolutions_changing, version_deleting


class ProfilesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "profiles"

    def ready(self) -> None:
        from . import services

        version_deleting.connect(
            services.refuse_deleting_resolved_version, dispatch_uid="profiles.version_in_use"
        )
        resolutions_changing.connect(
            services.watch_resolutions, dispatch_uid="profiles.resolution_moves"
        )
