"""Stepwise settings. Everything a deployment changes comes from the environment (see README.md)."""

import sys
from pathlib import Path

import environ
from django.utils.csp import CSP

from designer.config import mailer_from_url, read_or_create_secret

BASE_DIR = Path(__file__).resolve().parent.parent
# Local state that is never committed: SQLite database, secret key, admin password.
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="") or read_or_create_secret(VAR_DIR / "secret_key")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Used to build ARNs (arn:aws:states:<region>:<account>:stateMachine:<name>).
STEPWISE_REGION = env.str("STEPWISE_REGION", default="us-east-1")
STEPWISE_ACCOUNT_ID = env.str("STEPWISE_ACCOUNT_ID", default="123456789012")
# A worker running a Task attempt renews a lease this often (a third of it); when the lease runs out
# the attempt is declared lost and fails with States.TaskFailed (it is never re-run).
STEPWISE_TASK_LEASE_SECONDS = env.float("STEPWISE_TASK_LEASE_SECONDS", default=30.0)
# How many Task functions one db_worker calls at once, each on its own thread, while it goes on with
# the queue (0: in the worker's own thread, one after another, holding up everything else).
STEPWISE_TASK_THREADS = env.int("STEPWISE_TASK_THREADS", default=8)
# Seconds added to the wall clock for executions (tests fast-forward Waits with it; keep 0 otherwise).
STEPWISE_CLOCK_OFFSET = env.float("STEPWISE_CLOCK_OFFSET", default=0.0)

INSTALLED_APPS = [
    "daphne",  # first: makes `runserver` serve ASGI
    "channels",
    "django_tasks_db",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "designer",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files are answered here, before sessions and the login requirement.
    "servestatic.middleware.ServeStaticMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every view needs a logged-in user unless decorated with @login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "designer.urls"
ASGI_APPLICATION = "designer.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "designer.inbox_views.inbox_count",
            ],
        },
    },
]

# Database: SQLite file by default; any DATABASE_URL django-environ understands (postgres://...).
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)
    # The web server and the task worker write at the same time: WAL lets readers go on while one
    # writes, IMMEDIATE takes the write lock at BEGIN (no upgrade deadlocks), and writers wait up to
    # 20 s for the lock instead of failing with "database is locked". The backend is Django's, with a
    # process's own write transactions queued on a lock first (designer/sqlite/base.py says why).
    DATABASES["default"]["ENGINE"] = "designer.sqlite"
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "timeout": 20,
        }
    )
# A task worker is one thread running one task after another: it keeps its database connection.
# Opening one per task was half of a Map Run's time on SQLite, and on PostgreSQL it is a new server
# process with cold caches every time. Web requests keep Django's default, a connection per request,
# as Django advises under ASGI. `conn_max_age` in DATABASE_URL still decides when it is given.
if sys.argv[1:2] == ["db_worker"] and "CONN_MAX_AGE" not in DATABASES["default"]:
    DATABASES["default"]["CONN_MAX_AGE"] = None
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Channel layer: Redis when REDIS_URL is set (reaches across processes), else in this process only.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# The live execution view (designer/watchers.py): how often a daphne reads the new events of an execution
# its pages watch; with REDIS_URL the workers' hints wake it at once and the poll is only a safety net.
STEPWISE_LIVE_POLL_SECONDS = env.float("STEPWISE_LIVE_POLL_SECONDS", default=0.15)
STEPWISE_LIVE_SAFETY_POLL_SECONDS = env.float("STEPWISE_LIVE_SAFETY_POLL_SECONDS", default=2.0)

# Activities (designer/api_asgi.py): how long GetActivityTask waits for a task before it answers an
# empty token (AWS: 60 s), and how often a daphne looks for new tasks of the activities its polls wait on
# (one query per activity, however many polls wait).
STEPWISE_ACTIVITY_POLL_SECONDS = env.float("STEPWISE_ACTIVITY_POLL_SECONDS", default=60.0)
STEPWISE_ACTIVITY_WATCH_SECONDS = env.float("STEPWISE_ACTIVITY_WATCH_SECONDS", default=0.1)

# Failed logins are counted per username and address in the `login` cache, shared by every process:
# Redis when REDIS_URL is set, else a table in the database (made by migration 0005).
# STEPWISE_LOGIN_FAILURE_LIMIT failures lock the pair out for STEPWISE_LOGIN_LOCKOUT_SECONDS.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "login": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
         "KEY_PREFIX": "stepwise"}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "stepwise_cache"}
    ),
}
STEPWISE_LOGIN_FAILURE_LIMIT = env.int("STEPWISE_LOGIN_FAILURE_LIMIT", default=5)
STEPWISE_LOGIN_LOCKOUT_SECONDS = env.float("STEPWISE_LOGIN_LOCKOUT_SECONDS", default=900.0)

# Background work (wake-ups, timers, Task attempts) as database rows, run by `manage.py db_worker`.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Email: EMAIL_URL=console:// (default) or smtp://host:port, smtp+tls://user:pass@host:587, smtps://...
MAILERS = {"default": mailer_from_url(env.str("EMAIL_URL", default="console://"))}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Stepwise <stepwise@localhost>")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# Static files: served by servestatic from the app and project folders (no collectstatic needed,
# works with DEBUG off under daphne). `collectstatic` copies them to var/static if you want that.
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
SERVESTATIC_USE_FINDERS = True
SERVESTATIC_AUTOREFRESH = DEBUG

# Security headers and cookies.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True  # scripts read the token from <meta name="csrf-token"> instead
CSRF_COOKIE_SAMESITE = "Lax"
# Secure cookies are only sent over HTTPS, so they would break `make run` on plain
# http://127.0.0.1. Set SECURE_COOKIES=true when Stepwise is served over HTTPS.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=False)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content Security Policy: only this origin's scripts, styles, images and connections
# (ws:/wss: for live execution updates over WebSockets). Nothing comes from the internet.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF, "ws:", "wss:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# Log to the terminal (with DEBUG off Django would otherwise only mail errors to ADMINS).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# Human approvals: the address their email links point at (this server as approvers reach it), and how
# long a link lives at most when its Task has no due time.
STEPWISE_BASE_URL = env.str("STEPWISE_BASE_URL", default="http://localhost:8000").rstrip("/")
STEPWISE_APPROVAL_LINK_MAX_AGE = env.float("STEPWISE_APPROVAL_LINK_MAX_AGE", default=7 * 24 * 3600.0)
