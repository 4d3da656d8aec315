from django.urls import path

from . import views

urlpatterns = [
    path("", views.connector_list, name="connector_list"),
]
