from django.urls import path

from . import link_views, views

urlpatterns = [
    path("", views.connection_list, name="connection_list"),
    path("bulk/", views.connection_bulk, name="connection_bulk"),
    path("<int:connection_id>/", views.connection_detail, name="connection_detail"),
    path("<int:connection_id>/health/", views.connection_check_now, name="connection_check_now"),
    path("<int:connection_id>/rename/", views.connection_rename, name="connection_rename"),
    path("<int:connection_id>/status/", views.connection_status, name="connection_status"),
    path(
        "<int:connection_id>/refresh-tokens/",
        views.connection_refresh_tokens,
        name="connection_refresh_tokens",
    ),
    path("<int:connection_id>/delete/", views.connection_delete, name="connection_delete"),
    path("<int:connection_id>/access/grants/", views.grant_set, name="connection_grant_set"),
    path(
        "<int:connection_id>/access/grants/remove/",
        views.grant_remove,
        name="connection_grant_remove",
    ),
    path("<int:connection_id>/access/org-role/", views.org_role_set, name="connection_org_role"),
    path(
        "<int:connection_id>/reauth-link/",
        link_views.connection_reauth_link,
        name="connection_reauth_link",
    ),
]
