"""The "Link account" forms of the connector and profile pages (under /p/<project_slug>/),
and Settings → Connect pages (the look of the pages those links open)."""

from django.urls import path

from . import branding as branding_views
from . import links as link_views

urlpatterns = [
    path(
        "connectors/<slug:key>/link/",
        link_views.connector_link_create,
        name="connector_link_create",
    ),
    path(
        "profiles/<uuid:profile_id>/link/",
        link_views.profile_link_create,
        name="profile_link_create",
    ),
    path("settings/connect-pages/", branding_views.connect_pages, name="connect_pages"),
    path(
        "settings/connect-pages/preview/",
        branding_views.connect_pages_preview,
        name="connect_pages_preview",
    ),
]
