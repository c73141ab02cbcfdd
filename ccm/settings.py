"""Settings for Communication Control, read from environment variables.

Every value has an embedded default that needs no server to install (SQLite
under var/, a redis-server on a unix socket under var/ that `make run` starts
itself), so a fresh clone runs as it is.
Production sets DEBUG=false and real values; `manage.py check --deploy` then
reports nothing.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Queue

from ccm.logs import FORMATS as LOG_FORMATS
from ccm.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CCM_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


QUORUM = {"x-queue-type": "quorum"}


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be a whole number, not {value!r}"
        ) from None


DEBUG = env_bool("DEBUG", True)

_INSECURE_DEV_KEY = "django-insecure-dev-only-key-never-use-in-production"  # noqa: S105
SECRET_KEY = os.environ.get("SECRET_KEY", _INSECURE_DEV_KEY if DEBUG else "")
# Earlier keys still accepted for signatures (the preference links sent).
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")

# The master key that wraps each data subject's audit key (docs/audit.md,
# "Personal data in the chain"): a Fernet key, 32 url-safe base64 bytes
# (`python -c "from cryptography.fernet import Fernet;
# print(Fernet.generate_key().decode())"`). Earlier master keys, kept in
# AUDIT_MASTER_KEY_FALLBACKS, still unwrap the keys wrapped under them.
_INSECURE_DEV_AUDIT_KEY = "KITtm6X55B0y9YKu-iBEl3Mk-QZ614MFTM9srnvwglY="  # noqa: S105
AUDIT_MASTER_KEY = os.environ.get(
    "AUDIT_MASTER_KEY", _INSECURE_DEV_AUDIT_KEY if DEBUG else ""
)
AUDIT_MASTER_KEY_FALLBACKS = env_list("AUDIT_MASTER_KEY_FALLBACKS", "")
if not AUDIT_MASTER_KEY:
    raise ImproperlyConfigured("AUDIT_MASTER_KEY must be set when DEBUG is off")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "simple_history",
    "guardian",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "ccm",
    "audit",
    "templates_app",
    "customers",
    "channels_app",
    "rules",
    "console",
    "preferences",
    "retention",
    "operations",
    "inventory",
    "subject_rights",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "audit.middleware.CorrelationIdMiddleware",
    "ccm.middleware.NulRefusedMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "ccm.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "ccm.urls"
WSGI_APPLICATION = "ccm.wsgi.application"
ASGI_APPLICATION = "ccm.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/test.
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'ccm.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; IMMEDIATE avoids
    # "database is locked" on lock upgrades between the processes.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file, not memory, so that worker processes started by tests share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
# PostgreSQL: psycopg prepares no statement on its own. Prepared after five
# runs, the console's substring search went to a generic plan that cannot
# use its trigram index (p95 1.7 s at 1M customers; docs/console.md). Only
# the statements the code asks to prepare are (exact lookups that run on
# every request: `ccm.statements.prepared_cursor`). Django's default, None,
# would turn those off too, so the threshold is one never reached instead.
PREPARE_ONLY_WHEN_ASKED = 2**31 - 1
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "prepare_threshold", PREPARE_ONLY_WHEN_ASKED
    )
# Behind PgBouncer in transaction mode (docs/deploy.md) a connection serves
# another client after every transaction: nothing may live in the session.
# DATABASE_TRANSACTION_POOLING=true turns off server-side cursors, prepared
# statements (also the outbox's prepared mark) and the outbox's
# session-level `SET synchronous_commit`.
DATABASE_TRANSACTION_POOLING = env_bool("DATABASE_TRANSACTION_POOLING", False)
if (
    DATABASE_TRANSACTION_POOLING
    and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
):
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = None
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Sign-in (docs/deploy.md, "Sign-in"): throttling and lockout (django-axes),
# a second factor for staff (django-otp, TOTP) and, when OIDC_* is set,
# single sign-on over OpenID Connect (mozilla-django-oidc). All of it here.
INSTALLED_APPS += [
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "mozilla_django_oidc",
    "accounts",
]
# OTP after authentication, the second-factor gate once the user's language is
# active (its pages speak it), axes last (it turns a lockout into its page).
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "django_otp.middleware.OTPMiddleware",
)
MIDDLEWARE.insert(
    MIDDLEWARE.index("ccm.middleware.UserLanguageMiddleware") + 1,
    "accounts.middleware.SecondFactorMiddleware",
)
MIDDLEWARE.append("axes.middleware.AxesMiddleware")
AUTHENTICATION_BACKENDS = [
    # First: refuses every attempt on a locked account before a password check.
    "axes.backends.AxesStandaloneBackend",
    "ccm.auth.UserBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# Lockout: AXES_FAILURE_LIMIT wrong passwords lock the account (the username,
# from any address) for AXES_COOLOFF_MINUTES; each further attempt during the
# lockout starts the time again. A right password resets the count.
# AXES_LOCKOUT_PARAMETERS may add "ip_address" (also lock an address after that
# many failures on any accounts) or "username+ip_address" (lock the pair only).
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 10)
AXES_COOLOFF_MINUTES = env_int("AXES_COOLOFF_MINUTES", 15)
AXES_COOLOFF_TIME = timedelta(minutes=AXES_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [
    item.split("+") if "+" in item else item
    for item in env_list("AXES_LOCKOUT_PARAMETERS", "username")
]
_AXES_KEYS = [
    key
    for item in AXES_LOCKOUT_PARAMETERS
    for key in (item if isinstance(item, list) else [item])
]
for _part in _AXES_KEYS:
    if _part not in {"username", "ip_address", "user_agent"}:
        raise ImproperlyConfigured(
            "AXES_LOCKOUT_PARAMETERS takes username, ip_address, user_agent "
            f"(a pair joined by +), not {_part!r}"
        )
# axes.W006 warns that the username alone lets one address try many accounts;
# an address key would lock every colleague behind a shared proxy or NAT after
# one person's typos, so it is the deployer's choice (docs/deploy.md).
SILENCED_SYSTEM_CHECKS = ["axes.W006"] if "ip_address" not in _AXES_KEYS else []
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False  # its startup banner on every command; lockouts still log
# The address axes records: REMOTE_ADDR, or the first hop of X-Forwarded-For
# when AXES_PROXY_COUNT proxies (that set it) stand in front.
AXES_IPWARE_PROXY_COUNT = env_int("AXES_PROXY_COUNT", 0) or None
if AXES_IPWARE_PROXY_COUNT:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
# Second factor: users in these roles (group names) and superusers must give
# a TOTP code after their password, and enrol an authenticator app first if
# they have none. Anyone else who enrolled one is asked for it too.
MFA_REQUIRED_ROLES = env_list("MFA_REQUIRED_ROLES", "Reviewer,Operator")
MFA_REQUIRED_FOR_SUPERUSERS = env_bool("MFA_REQUIRED_FOR_SUPERUSERS", True)
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "Communication Control")
# The admin lists devices (to remove a lost one) but never shows their keys.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# Single sign-on (OpenID Connect), off unless the client id is set. The
# provider's directory groups (claim OIDC_GROUPS_CLAIM) name the roles through
# OIDC_GROUP_ROLES: "directory group=Role;other group=Role".
OIDC_RP_CLIENT_ID = os.environ.get("OIDC_RP_CLIENT_ID", "")
OIDC_ENABLED = bool(OIDC_RP_CLIENT_ID)
if OIDC_ENABLED:
    OIDC_RP_CLIENT_SECRET = os.environ.get("OIDC_RP_CLIENT_SECRET", "")
    OIDC_RP_SIGN_ALGO = os.environ.get("OIDC_RP_SIGN_ALGO", "RS256")
    OIDC_RP_SCOPES = os.environ.get("OIDC_RP_SCOPES", "openid email profile")
    for _name in (
        "OIDC_OP_AUTHORIZATION_ENDPOINT",
        "OIDC_OP_TOKEN_ENDPOINT",
        "OIDC_OP_USER_ENDPOINT",
        "OIDC_OP_JWKS_ENDPOINT",
    ):
        if not os.environ.get(_name):
            raise ImproperlyConfigured(f"{_name} must be set with OIDC_RP_CLIENT_ID")
        globals()[_name] = os.environ[_name]
    AUTHENTICATION_BACKENDS.insert(1, "accounts.oidc.RoleMappingBackend")
    OIDC_USE_PKCE = True
# ID tokens must name this client in `aud` and, when set, this issuer in `iss`.
OIDC_OP_ISSUER = os.environ.get("OIDC_OP_ISSUER", "")
LOGIN_REDIRECT_URL = "/admin/"
LOGIN_REDIRECT_URL_FAILURE = "/admin/login/?sso=failed"
OIDC_USERNAME_CLAIM = os.environ.get("OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_GROUPS_CLAIM = os.environ.get("OIDC_GROUPS_CLAIM", "groups")
OIDC_GROUP_ROLES = os.environ.get("OIDC_GROUP_ROLES", "")
# The provider's word that it asked for a second factor (the `amr` claim,
# RFC 8176) stands for ours when OIDC_TRUST_PROVIDER_MFA is on.
OIDC_TRUST_PROVIDER_MFA = env_bool("OIDC_TRUST_PROVIDER_MFA", False)
OIDC_MFA_AMR = env_list("OIDC_MFA_AMR", "mfa,otp,hwk,swk,sc")
_VALIDATORS = "django.contrib.auth.password_validation"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"{_VALIDATORS}.UserAttributeSimilarityValidator"},
    {"NAME": f"{_VALIDATORS}.MinimumLengthValidator"},
    {"NAME": f"{_VALIDATORS}.CommonPasswordValidator"},
    {"NAME": f"{_VALIDATORS}.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

# Languages: Arabic and English, for the UI and for communications.
LANGUAGE_CODE = os.environ.get("LANGUAGE_CODE", "en")
LANGUAGES = [("en", _("English")), ("ar", _("Arabic"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_TZ = True
# The zone pages show times in for a user who chose none (UserSettings).
DISPLAY_TIME_ZONE = os.environ.get("DISPLAY_TIME_ZONE", "Asia/Riyadh")
# Date and time formats that name the zone of every time shown.
FORMAT_MODULE_PATH = ["ccm.formats"]

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Security: strict by default when DEBUG is off.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
# X-Forwarded-Proto says a request came over HTTPS only when a proxy we trust
# (the load balancer that ends TLS) sets it and strips a client's own:
# TRUSTED_PROXY=true. Otherwise any client could claim HTTPS with it.
TRUSTED_PROXY = env_bool("TRUSTED_PROXY", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXY else None
SESSION_COOKIE_SECURE = not DEBUG
# Django's database sessions, read by a statement compiled once (ccm.sessions).
SESSION_ENGINE = "ccm.sessions"
CSRF_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Views meant to be framed by our own pages (PDF previews) opt in with
# @xframe_options_sameorigin.
X_FRAME_OPTIONS = "DENY"
# /healthz is probed over plain HTTP by load balancers and process managers.
SECURE_REDIRECT_EXEMPT = [r"^healthz(/live|/ready)?$", r"^metrics$"]

# Content-Security-Policy on every response (django-csp; docs/deploy.md):
# scripts, styles, fonts and frames from this origin only, images also as
# data: URLs; no inline script, event handler or style, no plugins, no
# <base>. Pages that show rendered drafts in sandboxed srcdoc frames (the
# template version form and review) add inline styles for those frames
# (templates_app.preview.PREVIEW_HOST_CSP); stored email copies and previews
# carry their own stricter policy.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "csp.middleware.CSPMiddleware",
)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
    }
}

# Email: Django's SMTP backend once EMAIL_HOST is given; until then (the
# embedded default) each message is written as a file under var/mail/.
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if os.environ.get("EMAIL_HOST")
    else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("EMAIL_PORT", 1025)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = os.environ.get(
    "DEFAULT_FROM_EMAIL", "Communication Control <noreply@example.com>"
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The address users reach the web app at: links in emails (review requests,
# decisions) are built on it, since an email has no request to take a host from.
SITE_URL = os.environ.get(
    "SITE_URL", f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
).rstrip("/")

# SMS: "file" writes each message under var/sms/; "http" posts JSON to SMS_HTTP_URL.
SMS_PROVIDER = os.environ.get("SMS_PROVIDER", "file")
SMS_HTTP_URL = os.environ.get("SMS_HTTP_URL", "")
SMS_HTTP_TOKEN = os.environ.get("SMS_HTTP_TOKEN", "")
SMS_SENDER_ID = os.environ.get("SMS_SENDER_ID", "CCM")
SMS_FILE_DIR = Path(os.environ.get("SMS_FILE_DIR", VAR_DIR / "sms"))

# Celery: Redis or RabbitMQ in production (docs/deploy.md). Unset, the broker
# is the embedded one: a redis-server on a unix socket under var/, which
# `make run` starts and supervises (scripts/supervise) and the tests start
# for themselves. (kombu's filesystem transport, used before, crashed workers
# on half-written message files: kombu issue 1551.)
EMBEDDED_BROKER_SOCKET = VAR_DIR / "redis.sock"
CELERY_BROKER_URL = (
    os.environ.get("CELERY_BROKER_URL") or f"redis+socket://{EMBEDDED_BROKER_SOCKET}"
)
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# One queue per kind of work, each served by its own worker pool in production
# (docs/deploy.md), so a letter run cannot hold up a passcode SMS; the routes
# are in ccm.celery.task_route. A worker started without -Q serves them all.
# RabbitMQ: quorum queues (replicated, durable; RabbitMQ's recommended mode)
# and publisher confirms. Nothing here is scheduled in the broker (no ETA or
# countdown: schedules live in the database), which quorum queues need.
_AMQP = CELERY_BROKER_URL.startswith(("amqp://", "amqps://", "pyamqp://"))
CELERY_TASK_QUEUES = [
    Queue(name, routing_key=name, queue_arguments=QUORUM if _AMQP else None)
    for name in ("email", "sms", "letters", "housekeeping")
]
CELERY_TASK_DEFAULT_QUEUE = "housekeeping"
CELERY_TASK_DEFAULT_QUEUE_TYPE = "quorum" if _AMQP else "classic"
CELERY_TASK_ROUTES = ("ccm.celery.task_route",)
if _AMQP:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
# Beat sends periodic tasks only while it holds a lease in the database
# (ccm.celery.SingleBeatScheduler): run two for failover, one sends.
CELERY_BEAT_SCHEDULER = "ccm.celery:SingleBeatScheduler"
BEAT_LEASE_SECONDS = env_int("BEAT_LEASE_SECONDS", 30)
HEARTBEAT_INTERVAL_SECONDS = env_int("HEARTBEAT_INTERVAL_SECONDS", 15)
# /healthz reports the worker dead when its last heartbeat is older than this.
HEARTBEAT_MAX_AGE_SECONDS = env_int("HEARTBEAT_MAX_AGE_SECONDS", 60)

# The outbox: how often beat pumps and sweeps, how long a claim is leased,
# the retry backoff and the attempt cap (all in the database, not the broker).
OUTBOX_PUMP_INTERVAL_SECONDS = env_int("OUTBOX_PUMP_INTERVAL_SECONDS", 5)
OUTBOX_SWEEP_INTERVAL_SECONDS = env_int("OUTBOX_SWEEP_INTERVAL_SECONDS", 30)
DISPATCH_LEASE_SECONDS = env_int("DISPATCH_LEASE_SECONDS", 300)
DISPATCH_RETRY_BASE_SECONDS = env_int("DISPATCH_RETRY_BASE_SECONDS", 30)
DISPATCH_RETRY_MAX_SECONDS = env_int("DISPATCH_RETRY_MAX_SECONDS", 3600)
# Batch runs: the most rows one batch may hold, how many rows one transaction
# processes (smaller on SQLite, whose one writer blocks everyone else), and how
# long a running batch may go without progress before beat starts it again.
BATCH_MAX_ROWS = env_int("BATCH_MAX_ROWS", 100_000)
# The largest body POST /api/v1/batches takes (other endpoints: Django's
# DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB); gzip bodies are bounded unpacked.
BATCH_MAX_BODY_BYTES = env_int("BATCH_MAX_BODY_BYTES", 64 * 1024 * 1024)
BATCH_CHUNK_ROWS = env_int(
    "BATCH_CHUNK_ROWS",
    50 if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" else 500,
)
BATCH_STALE_SECONDS = env_int("BATCH_STALE_SECONDS", 120)
# Triggers sent with `Prefer: respond-async` (channels_app.intake): how many
# one drain transaction triggers, and how often beat drains besides the kick
# each accepted trigger sends.
INTAKE_CHUNK_ROWS = env_int(
    "INTAKE_CHUNK_ROWS",
    50 if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" else 500,
)
INTAKE_DRAIN_INTERVAL_SECONDS = env_int("INTAKE_DRAIN_INTERVAL_SECONDS", 5)
# After a short chunk, how long a drain lets queued triggers gather before the
# next (a chunk's cost hardly depends on its size); 0 takes them as they come.
INTAKE_GATHER_MS = env_int("INTAKE_GATHER_MS", 250)
# How long one process reuses a template found in force to check queued
# triggers (0: read it for every request); the drain always reads it again.
INTAKE_TEMPLATE_REUSE_SECONDS = env_int("INTAKE_TEMPLATE_REUSE_SECONDS", 5)
# A trigger checks the hash of the version it sends on every call; the version's
# content rows a process read are reused for this long (0: read on every call).
TEMPLATE_ROWS_REUSE_SECONDS = env_int("TEMPLATE_ROWS_REUSE_SECONDS", 60)
BATCH_RESUME_INTERVAL_SECONDS = env_int("BATCH_RESUME_INTERVAL_SECONDS", 60)
# /metrics (Prometheus): the bearer token scrapers present (unset: no metrics),
# and how long one process reuses a scrape's figures.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_CACHE_SECONDS = env_int("METRICS_CACHE_SECONDS", 10)
# Shared secret providers sign delivery receipt webhooks with (HMAC-SHA256).
RECEIPT_WEBHOOK_SECRET = os.environ.get("RECEIPT_WEBHOOK_SECRET", "")
# Seconds a signed receipt stays acceptable; ids are remembered for twice that.
RECEIPT_WEBHOOK_TOLERANCE = env_int("RECEIPT_WEBHOOK_TOLERANCE", 300)
# Seconds a webhook's X-CCM-Timestamp may be ahead of this server's clock.
RECEIPT_WEBHOOK_CLOCK_SKEW = env_int("RECEIPT_WEBHOOK_CLOCK_SKEW", 60)
# Where customers reach the public preference centre (links in every message).
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# How long a preference-centre or unsubscribe link in a message stays valid.
PREFERENCE_LINK_MAX_AGE_DAYS = env_int("PREFERENCE_LINK_MAX_AGE_DAYS", 90)
# The mailbox of List-Unsubscribe's mailto: (empty: the https URL alone).
UNSUBSCRIBE_MAILTO = os.environ.get("UNSUBSCRIBE_MAILTO", "")
# The mandatory SMS template that answers a customer's STOP reply.
SMS_STOP_CONFIRMATION_TEMPLATE = os.environ.get(
    "SMS_STOP_CONFIRMATION_TEMPLATE", "sms-stop-confirmation"
)
# The mandatory SMS template that carries a fresh preference-centre link to a
# customer with no email address on file (its data: {"link": ...}).
PREFERENCE_LINK_SMS_TEMPLATE = os.environ.get(
    "PREFERENCE_LINK_SMS_TEMPLATE", "sms-preference-link"
)

# The API: one token per client system (a user holding the trigger permission).
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": [
        "ccm.parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "channels_app.api_access.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": os.environ.get("API_THROTTLE_RATE", "6000/min")},
    "EXCEPTION_HANDLER": "ccm.api_errors.exception_handler",
}
# Who may read the OpenAPI schema and the Swagger page (docs/channels.md):
# staff-or-token (a client system's token or a signed-in staff user), staff,
# or public.
API_DOCS_ACCESS = os.environ.get("API_DOCS_ACCESS", "staff-or-token").lower()
if API_DOCS_ACCESS not in {"staff-or-token", "staff", "public"}:
    raise ImproperlyConfigured(
        "API_DOCS_ACCESS must be staff-or-token, staff or public, "
        f"not {API_DOCS_ACCESS!r}"
    )
SPECTACULAR_SETTINGS = {
    "SERVE_PERMISSIONS": ["channels_app.api_access.DocsAccess"],
    "TITLE": "Communication Control API",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# JSON lines in production, plain text while developing (docs/deploy.md, Logs).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text" if DEBUG else "json").lower()
if LOG_FORMAT not in LOG_FORMATS:
    raise ImproperlyConfigured(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
# LOG_FILE: also append every line to this file (the test suite's scan).
LOGGING = logging_config(
    log_format=LOG_FORMAT,
    level=os.environ.get("LOG_LEVEL", "INFO").upper(),
    log_file=os.environ.get("LOG_FILE", ""),
)
