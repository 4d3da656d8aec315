"""Settings shared by every environment, read from the environment with django-environ.

SQLite is the embedded default when ``DATABASE_URL`` is unset; PostgreSQL (psycopg 3) otherwise.
"""

import os
import re
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
_env_file = Path(env.str("ENV_FILE", default=str(BASE_DIR / ".env")))
if _env_file.is_file():
    env.read_env(_env_file, overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",
    "django_tasks_db",
    "django_rq",
    "crontask",
    "axes",
    # Bottom to top: an app imports only those above it in this list (docs/architecture.md).
    "projects",
    "events",
    "connectors",
    "profiles",
    "connections",
    "runtime",
    "rollouts",
    "agents",
    "ops",
    # Interfaces over every app above: the admin's pages, the hosted connect pages.
    "dashboard",
    "mcp_server",
]

MIDDLEWARE = [
    # First: its latency covers every other middleware.
    "ops.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "projects.preferences.UserTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "projects.middleware.HtmxValidationStatusMiddleware",
    "projects.middleware.PrivateCacheControlMiddleware",
    "projects.middleware.CacheUnavailableMiddleware",
    "api.middleware.ApiErrorBodyMiddleware",
    # Last, as django-axes asks: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dashboard.context_processors.navigation",
            ],
        },
    },
    # The hot templates only (templates/jinja2/: the connections list's rows, the connection
    # page's overview): Jinja2 compiles a template to Python, and renders a 50-row connections
    # page in a fifth of the Django engine's time (bench/connections.py). Pages, their layout,
    # forms and includes stay Django templates.
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "NAME": "jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "core.jinja.environment"},
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, with dates read by psycopg's C loader and no prepared statement where
    # a partial index needs the value (core/db/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "core.db.postgresql"
    # Persistent connections, checked before reuse (psycopg 3).
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Parameters bound by the server, and a statement run five times on a connection prepared
    # there (psycopg's prepare_threshold): PostgreSQL then parses and plans it once, not on
    # every request. Under load this halved PostgreSQL's CPU per connections list and cut it
    # by two thirds per connection page (bench/load.py). DB_PREPARE_THRESHOLD=0 turns the
    # preparing off (a PgBouncer in transaction mode older than 1.21 can't keep them).
    _prepare = env.int("DB_PREPARE_THRESHOLD", default=5)
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=_prepare if _prepare > 0 else None
    )
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------------
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://connector-hub")}
# Several deployments (or test runs) may share one Redis database under distinct prefixes.
CACHES["default"]["KEY_PREFIX"] = env.str("CACHE_KEY_PREFIX", default="")
# Redis through core.cache: reads fail soft (the database answers), invalidations fail with 503.
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["BACKEND"] = "core.cache.FailSoftRedisCache"
# Generation counters (core.freshness) must be shared by every process that shares the
# database: a per-process default cache (the embedded local-memory one) gets a file-based store
# beside the SQLite database (or in the temp directory, named after the database), so a
# publish from a management command, the worker or a second server is seen on the next request.
if CACHES["default"]["BACKEND"].endswith("LocMemCache"):
    _db = DATABASES["default"]
    _name = str(_db.get("NAME") or "db")
    _default_dir = (
        f"{_name}-generations"
        if _db["ENGINE"].endswith("sqlite3") and _name != ":memory:"
        else os.path.join(
            tempfile.gettempdir(),
            "connector-hub-generations-"
            + re.sub(r"[^A-Za-z0-9_.-]", "_", f"{_db.get('HOST')}-{_db.get('PORT')}-{_name}"),
        )
    )
    CACHES["generations"] = {
        "BACKEND": "core.cache.LockedFileCache",
        "LOCATION": env.str("GENERATIONS_CACHE_DIR", default=_default_dir),
        "TIMEOUT": None,
        "OPTIONS": {"MAX_ENTRIES": 1_000_000},
    }

# --- Field encryption -----------------------------------------------------------------------


def parse_fernet_keys(raw: list[str]) -> list[str]:
    """Validate comma-separated Fernet keys; the first one is the primary key."""
    keys = [key.strip() for key in raw if key.strip()]
    for index, key in enumerate(keys):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError) as exc:
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS entry #{index + 1} is not a valid Fernet key "
                "(32 url-safe base64-encoded bytes)."
            ) from exc
    return keys


FIELD_ENCRYPTION_KEYS: list[str] = parse_fernet_keys(env.list("FIELD_ENCRYPTION_KEYS", default=[]))

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out username + address before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username
# from one address, that pair is locked out for AXES_COOLOFF_TIME; other users and addresses
# are unaffected. Attempts live in the database (AxesDatabaseHandler), so the lockout holds
# through a cache outage and across app servers. Admins lift it in the Django admin (Axes →
# Access attempts) or with `manage.py axes_reset_username <name>` / `axes_reset`.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "dashboard.projects.account.login_locked_out"
# The address is REMOTE_ADDR (django-ipware is not installed): a client-sent X-Forwarded-For
# never picks the lockout key.
AXES_VERBOSE = False
# Password reset requests and hosted connect page POSTs (core/throttle.py, django-ratelimit
# counting in the shared cache; fails open with a warning when the cache is down).
RATELIMIT_FAIL_OPEN = True
THROTTLE_PASSWORD_RESET_RATE = env.str("THROTTLE_PASSWORD_RESET_RATE", default="5/15m")
THROTTLE_CONNECT_RATE = env.str("THROTTLE_CONNECT_RATE", default="10/5m")
# Wrong API keys per client address (api/auth.py): past the limit, 429 until the window ends.
THROTTLE_API_KEY_RATE = env.str("THROTTLE_API_KEY_RATE", default="30/5m")
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- I18N -----------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
# The hosted connect pages and the reconnect email speak these (locale/, compiled by
# `make install`); the dashboard stays in English.
LANGUAGES = [
    ("en", "English"),
    ("de", "Deutsch"),
    ("fr", "Français"),
    ("es", "Español"),
    ("ja", "日本語"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# Outside production, WhiteNoise serves straight from the finders (no collectstatic needed).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Security headers (tightened further in production) ------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    # The Django admin still sets a few style="" attributes.
    "style-src-attr": [CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:", "https:"],
    "font-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# Django 6.1's MAILERS (EMAIL_BACKEND is deprecated); console output by default.
MAILERS = {
    "default": {
        "BACKEND": env.str(
            "EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
        ),
    }
}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Connector Hub <noreply@localhost>")

# --- Connector Hub --------------------------------------------------------------------------
# Shown in the hosted pages and emails; never built from the request.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

NINJA_PAGINATION_PER_PAGE = 50

# Hosted connect pages: the OAuth redirect URI registered with providers. Fixed here (never
# built from the request); defaults to SITE_URL + /connect/oauth/callback.
CONNECT_OAUTH_REDIRECT_URI = env.str("CONNECT_OAUTH_REDIRECT_URI", default="")

# Background work: Django's tasks framework. The database backend (django-tasks-db) by
# default, run by `manage.py db_worker` (make run starts one); TASKS_BACKEND=rq puts the queue
# in Redis (django-tasks-rq, TASKS_REDIS_URL, default CACHE_URL), run by
# `manage.py rqworker --job-class django_tasks_rq.Job default`. Tests use the immediate backend.
_TASK_BACKENDS = {"database": "django_tasks_db.DatabaseBackend", "rq": "django_tasks_rq.RQBackend"}
_task_backend = env.str("TASKS_BACKEND", default="database")
TASKS = {
    "default": {
        "BACKEND": _TASK_BACKENDS.get(_task_backend, _task_backend),
        "QUEUES": ["default"],
    }
}
TASKS_REDIS_URL = env.str("TASKS_REDIS_URL", default=env.str("CACHE_URL", default=""))
RQ_QUEUES = {"default": {"URL": TASKS_REDIS_URL or "redis://127.0.0.1:6379/0"}}

# The scheduler (django-crontask: `manage.py crontask`, one per deployment; with Redis a lock
# keeps a second one idle) enqueues the periodic tasks of connections/tasks.py and ops/tasks.py.
CRONTASK = {"REDIS_URL": TASKS_REDIS_URL or None}
SCHEDULE_TOKEN_REFRESH_SECONDS = env.int("SCHEDULE_TOKEN_REFRESH_SECONDS", default=60)
SCHEDULE_HEALTH_CHECK_SECONDS = env.int("SCHEDULE_HEALTH_CHECK_SECONDS", default=300)
SCHEDULE_BATCH_SIZE = env.int("SCHEDULE_BATCH_SIZE", default=200)
# Staged rollouts' gate and migration deadlines/reminders (rollouts/tasks.py); 0: not scheduled.
SCHEDULE_ROLLOUTS_SECONDS = env.int("SCHEDULE_ROLLOUTS_SECONDS", default=60)
SCHEDULE_MIGRATION_DEADLINES_SECONDS = env.int("SCHEDULE_MIGRATION_DEADLINES_SECONDS", default=60)
SCHEDULE_CONCURRENCY = env.int("SCHEDULE_CONCURRENCY", default=4)
# Refresh an access token this long before it expires; assume this lifetime when the provider
# sent no expires_in; refresh at least this often (refresh tokens that die when unused).
TOKEN_REFRESH_AHEAD_SECONDS = env.int("TOKEN_REFRESH_AHEAD_SECONDS", default=15 * 60)
TOKEN_ASSUMED_LIFETIME_SECONDS = env.int("TOKEN_ASSUMED_LIFETIME_SECONDS", default=3600)
TOKEN_REFRESH_MAX_AGE_SECONDS = env.int("TOKEN_REFRESH_MAX_AGE_SECONDS", default=24 * 3600)
# Each active connection is health-checked about this often (in batches, oldest check first).
HEALTH_CHECK_INTERVAL_SECONDS = env.int("HEALTH_CHECK_INTERVAL_SECONDS", default=6 * 3600)
# A connection whose scheduled refresh or health check failed for now (the provider down, slow,
# 5xx) is retried after a backoff of its own: this base doubled per failure in a row, capped,
# with jitter (connections.services.backoff); a success resets it.
RETRY_BACKOFF_BASE_SECONDS = env.int("RETRY_BACKOFF_BASE_SECONDS", default=60)
RETRY_BACKOFF_MAX_SECONDS = env.int("RETRY_BACKOFF_MAX_SECONDS", default=6 * 3600)
TASK_RESULT_RETENTION_DAYS = env.int("TASK_RESULT_RETENTION_DAYS", default=7)

# Outbound calls (core.outbound): each has one wall-clock deadline over connect, headers and
# body, by kind; an action's calls (its pages, a token refresh, the retry) also share
# RUNTIME_ACTION_TIMEOUT, kept below GUNICORN_TIMEOUT (30). Inside them, a connection
# attempt and a silence between two reads are bounded by CONNECTION_HTTP_TIMEOUT.
RUNTIME_REQUEST_TIMEOUT = env.float("RUNTIME_REQUEST_TIMEOUT", default=10.0)
RUNTIME_ACTION_TIMEOUT = env.float("RUNTIME_ACTION_TIMEOUT", default=25.0)
HEALTH_CHECK_TIMEOUT = env.float("HEALTH_CHECK_TIMEOUT", default=10.0)
OAUTH_TOKEN_TIMEOUT = env.float("OAUTH_TOKEN_TIMEOUT", default=10.0)
CONNECTION_HTTP_TIMEOUT = (
    env.float("CONNECTION_HTTP_CONNECT_TIMEOUT", default=3.0),
    env.float("CONNECTION_HTTP_READ_TIMEOUT", default=5.0),
)
# Health checks and token calls go to public https hosts only (no SSRF into the platform's
# network); local and test settings allow loopback and private addresses (sandbox, tests).
CONNECTION_ALLOW_PRIVATE_NETWORK = False

# /metrics answers only with `Authorization: Bearer <METRICS_TOKEN>` (404 while it is unset).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# The runtime (actions through a connection, docs/connector-definition.md "Limits"): the
# largest provider answer read, the pages one paginated_request may fetch and their total
# size, and how long the request log keeps a row (prune_request_log).
RUNTIME_MAX_RESPONSE_BYTES = env.int("RUNTIME_MAX_RESPONSE_BYTES", default=5 * 1024 * 1024)
RUNTIME_MAX_PAGES = env.int("RUNTIME_MAX_PAGES", default=20)
RUNTIME_MAX_TOTAL_BYTES = env.int("RUNTIME_MAX_TOTAL_BYTES", default=20 * 1024 * 1024)
RUNTIME_REQUEST_LOG_RETENTION_DAYS = env.int("RUNTIME_REQUEST_LOG_RETENTION_DAYS", default=30)
# The budget of one action's expressions (docs/connector-definition.md "Budgets"): CPU time
# outside the provider calls, and evaluation steps (JEXL nodes, JSONPath nodes visited);
# beyond either the action answers 422 expression_budget_exceeded.
RUNTIME_EXPRESSION_CPU_MS = env.int("RUNTIME_EXPRESSION_CPU_MS", default=250)
RUNTIME_EXPRESSION_MAX_STEPS = env.int("RUNTIME_EXPRESSION_MAX_STEPS", default=1_000_000)
# Webhook deliveries (events app): seconds an attempt may take in all (connect, send, the
# answer's status and headers); a timed-out attempt is retried like a 5xx.
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=15.0)
# Connect sessions' success_url / error_url and the branding's allowed origins: https only
# (local and test settings allow http, for loopback apps).
CONNECT_ALLOW_HTTP_ORIGINS = False

# The demo's sandbox provider under /sandbox/ (local and test settings only).
SANDBOX_ENABLED = False


# Local and test settings switch the sandbox on: the "oauth2_provider" app (django-oauth-toolkit)
# with this configuration serves a real OAuth 2 server under /sandbox/oauth/.
SANDBOX_OAUTH2_PROVIDER: dict[str, Any] = {
    "PKCE_REQUIRED": True,
    "SCOPES": {
        "contacts.read": "Read your contacts",
        "contacts.write": "Create and update your contacts",
        "profile": "See your name",
    },
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    "ROTATE_REFRESH_TOKEN": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
}
# Plain-http token endpoints on loopback hosts: off here; local and test settings turn it on
# (and oauthlib's own https check off, see allow_http_loopback).
OAUTH_ALLOW_HTTP_LOOPBACK = False


def allow_http_loopback() -> bool:
    """For local and test settings: plain-http OAuth endpoints on loopback hosts only (our
    tokens._check_url refuses other hosts; oauthlib's blanket https check is lifted)."""
    os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
    return True


# Development server request lines for static files (one per stylesheet and script of every
# page) are left out unless LOG_STATIC is true; failed ones always show.
LOG_STATIC = env.bool("LOG_STATIC", default=False)
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = "json" if env.str("LOG_FORMAT", default="plain") == "json" else "plain"

# Every line goes out once, through one handler that redacts connect tokens and OAuth codes:
# the root's. Django's own default handlers (a second, unfiltered console handler on the
# "django" logger, mail_admins) are replaced, or each Django warning and task line would be
# printed twice, the second time unredacted.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        # LOG_FORMAT=json: one JSON object a line (python-json-logger), redacted the same way.
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
    },
    "filters": {
        "redact": {"()": "config.logging.RedactSecretsFilter"},
        "plain_refusals": {"()": "config.logging.PlainRefusals"},
        "quiet_static": {
            "()": "config.logging.QuietStaticRequests",
            "prefix": "/" + STATIC_URL.lstrip("/"),
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["redact", "plain_refusals"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        # Never log request bodies or auth headers; django.request logs only the path.
        "django.db.backends": {"level": "WARNING"},
        # /mcp runs one stateless SDK session manager per request: its start/stop lines are
        # noise (three INFO lines a request); warnings and errors still show.
        "mcp.server.streamable_http": {"level": "WARNING"},
        "mcp.server.streamable_http_manager": {"level": "WARNING"},
        # The development server's request lines go through the redacting handler too
        # (they carry /connect/<token>/ paths and OAuth callback codes).
        "django.server": {
            "handlers": ["console"],
            "level": "INFO",
            "propagate": False,
            "filters": [] if LOG_STATIC else ["quiet_static"],
        },
        # These log URLs (which may carry credentials) and token bodies at DEBUG: never.
        "urllib3": {"level": "WARNING"},
        "requests_oauthlib": {"level": "WARNING"},
        "oauthlib": {"level": "WARNING"},
        "oauth2_provider": {"level": "WARNING"},
        # django-axes logs every successful login's reset of its counters at INFO.
        "axes": {"level": "WARNING"},
        # The scheduler logs every run of every job (its lock extension every 5 s) at INFO.
        "apscheduler": {"level": "WARNING"},
    },
}
