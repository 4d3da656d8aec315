from django.urls import path

from . import access, detail, links, table

urlpatterns = [
    path("", table.connection_list, name="connection_list"),
    path("bulk/", table.connection_bulk, name="connection_bulk"),
    path("bulk/<uuid:run_id>/", table.connection_bulk_run, name="connection_bulk_run"),
    path("export.csv", table.connection_export, name="connection_export"),
    path("columns/", table.connection_columns, name="connection_columns"),
    path("<uuid:connection_id>/", detail.connection_detail, name="connection_detail"),
    path("<uuid:connection_id>/health/", detail.connection_check_now, name="connection_check_now"),
    path("<uuid:connection_id>/rename/", detail.connection_rename, name="connection_rename"),
    path("<uuid:connection_id>/status/", detail.connection_status, name="connection_status"),
    path(
        "<uuid:connection_id>/refresh-tokens/",
        detail.connection_refresh_tokens,
        name="connection_refresh_tokens",
    ),
    path("<uuid:connection_id>/delete/", detail.connection_delete, name="connection_delete"),
    path("<uuid:connection_id>/access/grants/", access.grant_set, name="connection_grant_set"),
    path(
        "<uuid:connection_id>/access/grants/remove/",
        access.grant_remove,
        name="connection_grant_remove",
    ),
    path("<uuid:connection_id>/access/org-role/", access.org_role_set, name="connection_org_role"),
    path(
        "<uuid:connection_id>/reauth-link/",
        links.connection_reauth_link,
        name="connection_reauth_link",
    ),
]
