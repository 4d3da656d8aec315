from django.urls import path

from . import views

urlpatterns = [
    path("", views.settings_webhooks, name="settings_webhooks"),
    path("<uuid:endpoint_id>/", views.webhook_detail, name="webhook_detail"),
    path("<uuid:endpoint_id>/enabled/", views.webhook_toggle, name="webhook_toggle"),
    path("<uuid:endpoint_id>/rotate/", views.webhook_rotate, name="webhook_rotate"),
    path("<uuid:endpoint_id>/test/", views.webhook_test, name="webhook_test"),
    path("<uuid:endpoint_id>/delete/", views.webhook_delete, name="webhook_delete"),
    path(
        "<uuid:endpoint_id>/deliveries/<uuid:delivery_id>/retry/",
        views.delivery_retry,
        name="webhook_delivery_retry",
    ),
]
