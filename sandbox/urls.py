from django.urls import path

from . import views

urlpatterns = [path("api/me", views.api_me, name="sandbox_api_me")]
