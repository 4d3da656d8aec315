from django.urls import path

from . import views

urlpatterns = [
    path(
        "connectors/<str:key>/versions/<int:version_id>/actions/<str:action_id>/try/",
        views.action_try,
        name="action_try",
    ),
    path(
        "connections/<uuid:connection_id>/requests/",
        views.connection_requests,
        name="connection_requests",
    ),
]
