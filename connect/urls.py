from django.urls import path

from . import views

# The fixed paths come first: "oauth", "theme.css" and "logo" are never tokens (tokens are
# 43 characters).
urlpatterns = [
    path("oauth/callback", views.oauth_callback, name="connect_oauth_callback"),
    path("theme.css", views.theme_css, name="connect_theme_css"),
    path("logo/<slug:digest>.png", views.logo, name="connect_logo"),
    path("<str:token>/", views.connect_page, name="connect_page"),
    path("<str:token>/oauth/start", views.oauth_start, name="connect_oauth_start"),
]
