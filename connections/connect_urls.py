from django.urls import path

from .views import hosted as views

# The callback comes first: "oauth" is never a token (tokens are 43 characters).
urlpatterns = [
    path("oauth/callback", views.oauth_callback, name="connect_oauth_callback"),
    path("<str:token>/", views.connect_page, name="connect_page"),
    path("<str:token>/oauth/start", views.oauth_start, name="connect_oauth_start"),
]
