"""Local development: DEBUG on, SQLite by default, console email."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = SECRET_KEY or "django-insecure-local-development-only"  # noqa: F405
ALLOWED_HOSTS = ALLOWED_HOSTS or ["127.0.0.1", "localhost", "[::1]"]  # noqa: F405
WHITENOISE_AUTOREFRESH = DEBUG
OAUTH_ALLOW_HTTP_LOOPBACK = allow_http_loopback()  # noqa: F405
SANDBOX_ENABLED = True
CONNECTION_ALLOW_PRIVATE_NETWORK = True
INSTALLED_APPS = [*INSTALLED_APPS, "oauth2_provider", "sandbox"]  # noqa: F405
OAUTH2_PROVIDER = SANDBOX_OAUTH2_PROVIDER  # noqa: F405
