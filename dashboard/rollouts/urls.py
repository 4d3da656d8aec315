"""URLs of the migration pages (under /p/<project_slug>/migrations/)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.migration_list, name="migration_list"),
    path("new/", views.migration_new, name="migration_new"),
    path("start/<str:key>/<int:version_id>/", views.migration_start, name="migration_start"),
    path("<uuid:migration_id>/", views.migration_detail, name="migration_detail"),
    path(
        "<uuid:migration_id>/accounts/<uuid:connection_id>/link/",
        views.migration_link_create,
        name="migration_link_create",
    ),
    path("<uuid:migration_id>/notify/", views.migration_notify, name="migration_notify"),
    path("<uuid:migration_id>/export/", views.migration_export, name="migration_export"),
    path("<uuid:migration_id>/complete/", views.migration_complete, name="migration_complete"),
    path("<uuid:migration_id>/schedule/", views.migration_schedule, name="migration_schedule"),
]
