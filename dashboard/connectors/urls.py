from django.urls import path

from . import views

urlpatterns = [
    path("", views.connector_list, name="connector_list"),
    path("upload/", views.upload, name="connector_upload"),
    path("upload/preview/", views.upload_preview, name="connector_upload_preview"),
    path("<slug:key>/", views.connector_detail, name="connector_detail"),
    path("<slug:key>/compare/", views.version_compare, name="version_compare"),
    path("<slug:key>/versions/<int:version_id>/", views.version_detail, name="version_detail"),
    path(
        "<slug:key>/versions/<int:version_id>/publish/",
        views.version_publish,
        name="version_publish",
    ),
    path(
        "<slug:key>/versions/<int:version_id>/delete/",
        views.version_delete,
        name="version_delete",
    ),
]
