from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The admin's HTML pages and HTMX partials: an interface over the domain apps (it calls
    their services and selectors; no models of its own)."""

    name = "dashboard"
