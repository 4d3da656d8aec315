"""Local development: DEBUG on, SQLite by default, console email."""

from urllib.parse import urlsplit

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = SECRET_KEY or "django-insecure-local-development-only"  # noqa: F405
# The loopback names, and the host SITE_URL names (`make run HOST=192.168.1.20` serves there).
_site_host = urlsplit(SITE_URL).hostname or "127.0.0.1"  # noqa: F405
ALLOWED_HOSTS = ALLOWED_HOSTS or list(  # noqa: F405
    dict.fromkeys(
        ["127.0.0.1", "localhost", "[::1]", f"[{_site_host}]" if ":" in _site_host else _site_host]
    )
)
WHITENOISE_AUTOREFRESH = DEBUG
OAUTH_ALLOW_HTTP_LOOPBACK = allow_http_loopback()  # noqa: F405
SANDBOX_ENABLED = True
CONNECT_ALLOW_HTTP_ORIGINS = True
CONNECTION_ALLOW_PRIVATE_NETWORK = True
INSTALLED_APPS = [*INSTALLED_APPS, "oauth2_provider", "sandbox"]  # noqa: F405
OAUTH2_PROVIDER = SANDBOX_OAUTH2_PROVIDER  # noqa: F405
# The demo's connections point at fictional hosts (only the Sandbox ones answer): no scheduled
# health checks unless asked for (the scheduler still refreshes tokens).
SCHEDULE_HEALTH_CHECK_SECONDS = env.int("SCHEDULE_HEALTH_CHECK_SECONDS", default=0)
