"""The "Link account" forms of the connector and profile pages (under /p/<project_slug>/)."""

from django.urls import path

from .views import links as link_views

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
]
