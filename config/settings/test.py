"""Test settings: the suite runs on SQLite by default and on PostgreSQL with DATABASE_URL."""

from cryptography.fernet import Fernet

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production-0123456789-abcdefghijklmnopqrstuvwxyz"
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
WHITENOISE_AUTOREFRESH = True
FIELD_ENCRYPTION_KEYS = FIELD_ENCRYPTION_KEYS or [Fernet.generate_key().decode()]  # noqa: F405
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
OAUTH_ALLOW_HTTP_LOOPBACK = allow_http_loopback()  # noqa: F405
SANDBOX_ENABLED = True
CONNECT_ALLOW_HTTP_ORIGINS = True
CONNECTION_ALLOW_PRIVATE_NETWORK = True
INSTALLED_APPS = [*INSTALLED_APPS, "oauth2_provider", "sandbox"]  # noqa: F405
OAUTH2_PROVIDER = SANDBOX_OAUTH2_PROVIDER  # noqa: F405
# Tasks run at once, inside the test (a test may switch to the database backend).
TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
# The suite logs in many times; the throttling tests set the real limits with override_settings.
AXES_FAILURE_LIMIT = 1000
THROTTLE_PASSWORD_RESET_RATE = "1000/m"
THROTTLE_CONNECT_RATE = "1000/m"
THROTTLE_API_KEY_RATE = "1000/m"
