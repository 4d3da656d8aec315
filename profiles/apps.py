from django.apps import AppConfig

from connectors import extensions as connector_pages
from connectors.signals import resolutions_changing, version_deleting


class ProfilesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "profiles"

    def ready(self) -> None:
        from . import panels, services

        connector_pages.connector_page.register(panels.connector_headline)
        connector_pages.version_page.register(panels.version_headline)
        connector_pages.upload_preview.register(panels.publish_moves)
        version_deleting.connect(
            services.refuse_deleting_resolved_version, dispatch_uid="profiles.version_in_use"
        )
        resolutions_changing.connect(
            services.watch_resolutions, dispatch_uid="profiles.resolution_moves"
        )
