"""Production: refuses to start without its secrets; passes ``manage.py check --deploy``."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = env.str("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
if not FIELD_ENCRYPTION_KEYS:  # noqa: F405
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEYS is required in production: comma-separated Fernet keys, "
        "the first one is the primary key."
    )

# Resolution caching and its invalidation must be shared by every app server process.
if CACHES["default"]["BACKEND"].endswith("LocMemCache") and not env.bool(  # noqa: F405
    "ALLOW_LOCAL_CACHE", default=False
):
    raise ImproperlyConfigured(
        "CACHE_URL must name a shared cache (e.g. redis://host:6379/0) in production: a "
        "per-process cache would serve stale version resolutions on the other workers. "
        "Set ALLOW_LOCAL_CACHE=true only for a single-process deployment."
    )

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# The load balancer probes over plain http inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
X_FRAME_OPTIONS = "DENY"
WHITENOISE_USE_FINDERS = False
WHITENOISE_AUTOREFRESH = False

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Email over SMTP, configured by one URL: smtp+tls://user:password@smtp.example.com:587
_email = env.email_url("EMAIL_URL", default="smtp://localhost:25")
MAILERS = {
    "default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": _email.get("EMAIL_HOST") or "localhost",
            "port": _email.get("EMAIL_PORT") or 25,
            "username": _email.get("EMAIL_HOST_USER") or None,
            "password": _email.get("EMAIL_HOST_PASSWORD") or None,
            "use_tls": bool(_email.get("EMAIL_USE_TLS")),
            "use_ssl": bool(_email.get("EMAIL_USE_SSL")),
            "timeout": 10,
        },
    }
}
