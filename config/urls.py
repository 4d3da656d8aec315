from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import URLPattern, URLResolver, include, path

from api.api import api
from dashboard import overview
from dashboard.projects import account as project_views


def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    # Resolved per request: with the manifest storage the hashed name exists after collectstatic.
    return HttpResponsePermanentRedirect(static("favicon.svg"))


admin.site.site_header = "Connector Hub support"
admin.site.site_title = "Connector Hub support"

project_urls: list[URLPattern | URLResolver] = [
    path("", overview.project_home, name="project_home"),
    path("", include("dashboard.projects.urls")),
    path("connectors/", include("dashboard.connectors.urls")),
    path("connections/", include("dashboard.connections.urls")),
    path("", include("dashboard.profiles.urls")),
    path("", include("dashboard.connections.link_urls")),
    path("migrations/", include("dashboard.rollouts.urls")),
    path("", include("dashboard.runtime.urls")),
    path("settings/webhooks/", include("dashboard.events.urls")),
]

handler403 = "dashboard.projects.account.permission_denied"

urlpatterns = [
    path("", project_views.home, name="home"),
    # Load balancer probes and Prometheus (ops/views.py): no session, no login.
    path("", include("ops.urls")),
    # Before Django's own: the same form, its POSTs rate-limited per address.
    path("accounts/password_reset/", project_views.password_reset, name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("organizations/new/", project_views.organization_create, name="organization_create"),
    path("account/time-zone/", project_views.user_time_zone, name="user_time_zone"),
    path(
        "organizations/<slug:org_slug>/projects/new/",
        project_views.project_create,
        name="project_create",
    ),
    path("p/<slug:project_slug>/", include(project_urls)),
    path("connect/", include("connect.urls")),
    path("favicon.ico", favicon),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    # AI agents: connections as tools over the Model Context Protocol (docs/agents.md).
    path("", include("mcp_server.urls")),
]

if settings.SANDBOX_ENABLED:
    # The local demo's provider (never in production settings).
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
