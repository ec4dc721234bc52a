"""Django settings for closeloop.

Everything a deployment changes comes from environment variables (see `.env.example`
and `docs/configuration.md`). `CLOSELOOP_ENV=production` turns on the hardened
settings that `closeloop check --deploy` expects.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent

ENV = os.environ.get("CLOSELOOP_ENV", "development")
PRODUCTION = ENV == "production"
# The demo database is marked in the UI; set by `make demo` (`closeloop demo` marks the database too).
DEMO_MODE = os.environ.get("CLOSELOOP_DEMO", "0") == "1"
# The demo runs like production (no debug pages, hashed static files served by WhiteNoise from
# STATIC_ROOT), so what the demo shows is what production serves.
# (`closeloop serve` turns it off whatever the environment says: closeloop.cli.)
DEBUG = os.environ.get("CLOSELOOP_DEBUG", "0" if PRODUCTION or DEMO_MODE else "1") == "1"

DATA_DIR = Path(os.environ.get("CLOSELOOP_DATA_DIR", PROJECT_DIR / "var")).resolve()
#: Seconds between the worker's analytics steps while it keeps up (analytics.refresh.worker_step).
ANALYTICS_INTERVAL = float(os.environ.get("CLOSELOOP_ANALYTICS_INTERVAL", "10"))
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY from the environment, or one generated once into an ignored local file."""
    key = os.environ.get("CLOSELOOP_SECRET_KEY") or os.environ.get("SECRET_KEY")
    if key:
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(64))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
# Former keys that still verify sessions and Django-signed values after a SECRET_KEY change
# (comma-separated). Printed stickers have their own keyring (closeloop.core.signing).
SECRET_KEY_FALLBACKS = [k for k in os.environ.get("CLOSELOOP_SECRET_KEY_FALLBACKS", "").split(",") if k]

ALLOWED_HOSTS = [h for h in os.environ.get("CLOSELOOP_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CLOSELOOP_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",  # the interactive API docs (Swagger UI) from its own static files, no CDN
    "closeloop.core",
    "closeloop.audit",
    "closeloop.accounts",
    "closeloop.customers",
    "closeloop.workorders",
    "closeloop.demo",
    "closeloop.outbox",
    "closeloop.sla",
    "closeloop.roster",
    "closeloop.dispatch",
    "closeloop.rules",
    "closeloop.maintenance",
    "closeloop.notify",
    "closeloop.parts",
    "closeloop.fieldwork",
    "closeloop.telemetry",
    "closeloop.portal",
    "closeloop.console",
    "closeloop.approvals",
    "closeloop.ledgers",
    "closeloop.analytics",
    "closeloop.administration",
    "closeloop.gallery",
    "closeloop.purchasing",
    "closeloop.ops",
    "closeloop.events",
    "closeloop.mailin",
    "closeloop.connectors",
]

MIDDLEWARE = [
    "closeloop.ops.middleware.MetricsMiddleware",  # first: times every request
    "django.middleware.security.SecurityMiddleware",
    "closeloop.core.requestid.RequestIdMiddleware",
    "closeloop.core.middleware.StaticFilesMiddleware",  # WhiteNoise
    "closeloop.core.middleware.SessionUnlessBearerAPI",  # (bearer API requests: core.middleware)
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "closeloop.core.edges.EdgeMiddleware",  # body limits, NUL, media types, database lost (before CSRF reads)
    # Django's own class, by its name: `check --deploy` looks for it (a wrapper would hide it).
    "django.middleware.csrf.CsrfViewMiddleware",
    "closeloop.core.middleware.AuthenticationUnlessBearerAPI",
    "closeloop.core.middleware.UserTimezoneMiddleware",
    "closeloop.administration.middleware.FirstRunMiddleware",
    "closeloop.core.middleware.MessagesUnlessBearerAPI",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "closeloop.core.middleware.ContentSecurityPolicyMiddleware",  # Django's, its header kept without a nonce
    "closeloop.core.middleware.HtmxUnlessBearerAPI",
    "closeloop.core.middleware.IdempotencyMiddleware",
]

ROOT_URLCONF = "closeloop.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "closeloop.core.context_processors.closeloop",
            ],
        },
    },
]

WSGI_APPLICATION = "closeloop.wsgi.application"

# --- Database -------------------------------------------------------------------
# SQLite (WAL) is the embedded default; DATABASE_URL=postgres://... selects PostgreSQL.
SQLITE_PATH = DATA_DIR / "closeloop.sqlite3"
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    # No session-level planner settings: the hot reads that need a fixed join order set it for
    # their own query (closeloop.core.planner.fixed_join_order).
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
    # CLOSELOOP_DB_POOL=N: each process keeps a psycopg pool of up to N connections (min 1) instead
    # of one persistent connection per thread; Django wants CONN_MAX_AGE 0 with a pool.
    _pool = int(os.environ.get("CLOSELOOP_DB_POOL", "0") or 0)
    if _pool > 0 and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"].update(CONN_MAX_AGE=0, CONN_HEALTH_CHECKS=False)
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1, "max_size": _pool,
            "timeout": float(os.environ.get("CLOSELOOP_DB_POOL_TIMEOUT", "10")),
        }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": SQLITE_PATH}}
# PostgreSQL: the hot reads' constant SQL runs as prepared statements (closeloop.core.compiled).
# CLOSELOOP_PG_PREPARE=0 behind a pooler in transaction mode that does not keep them (PgBouncer
# before 1.21, or without max_prepared_statements).
CLOSELOOP_PG_PREPARE = os.environ.get("CLOSELOOP_PG_PREPARE", "1") == "1"
if CLOSELOOP_PG_PREPARE and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django turns psycopg's prepared statements off (None); a threshold lets the cursor of
    # core.compiled prepare on request, while Django's own (client-side binding) never does.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 2**31 - 1)

_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # Django's backend whose transactions queue on a file lock (closeloop/core/sqlite/base.py):
    # SQLite's busy handler sleeps up to 100 ms between tries while the lock stands free.
    _db["ENGINE"] = "closeloop.core.sqlite"
    # IMMEDIATE transactions take the write lock up front, so two writers queue on the
    # busy timeout instead of failing with "database is locked" on lock upgrade.
    _db.setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": (
                "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA cache_size=-64000;"
                "PRAGMA mmap_size=268435456;PRAGMA temp_store=MEMORY"
            ),
        }
    )
    # Keep a worker's connection across requests: opening one re-runs the PRAGMAs above
    # and maps the file again (bench/: ~1-2 ms of every request).
    _db.setdefault("CONN_MAX_AGE", 600)
    _db.setdefault("CONN_HEALTH_CHECKS", True)
    # Tests use a file (not :memory:) so several connections and threads share it.
    _db["TEST"] = {"NAME": str(DATA_DIR / f"test_{os.getpid()}.sqlite3")}
else:
    # One test database per test run, so parallel runs on one machine never collide.
    _db["TEST"] = {"NAME": f"test_{_db['NAME']}_{os.getpid()}"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "workorders:list"
LOGOUT_REDIRECT_URL = "login"

# Login rate limiting (closeloop.core.ratelimit): failures per username+address per window.
LOGIN_MAX_FAILURES = int(os.environ.get("CLOSELOOP_LOGIN_MAX_FAILURES", "5"))
LOGIN_FAILURE_WINDOW_SECONDS = int(os.environ.get("CLOSELOOP_LOGIN_FAILURE_WINDOW", "900"))

# --- i18n -----------------------------------------------------------------------
LANGUAGE_CODE = os.environ.get("CLOSELOOP_LANGUAGE", "zh-hans")
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("CLOSELOOP_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static and uploads -----------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("CLOSELOOP_STATIC_ROOT", DATA_DIR / "static"))
# Only the built bundles are static files: static/src (and what it imports from node_modules)
# is esbuild's input, never served or collected.
STATICFILES_DIRS = [("dist", BASE_DIR / "static" / "dist")]
MEDIA_ROOT = Path(os.environ.get("CLOSELOOP_MEDIA_ROOT", DATA_DIR / "media"))
# Uploads live in MEDIA_ROOT, or in an S3-compatible bucket (MinIO, Ceph, OSS/COS with their S3
# API, AWS) when CLOSELOOP_S3_BUCKET is set: what several web servers on several hosts need.
# Files are always served through closeloop's permission-checked views, never by bucket URL.
S3_BUCKET = os.environ.get("CLOSELOOP_S3_BUCKET", "")
if S3_BUCKET:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": os.environ.get("CLOSELOOP_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("CLOSELOOP_S3_REGION") or None,
            "access_key": os.environ.get("CLOSELOOP_S3_ACCESS_KEY") or None,
            "secret_key": os.environ.get("CLOSELOOP_S3_SECRET_KEY") or None,
            "location": os.environ.get("CLOSELOOP_S3_PREFIX", ""),
            "addressing_style": os.environ.get("CLOSELOOP_S3_ADDRESSING_STYLE", "path"),
            "default_acl": None,
            "file_overwrite": False,
            "querystring_auth": True,
        },
    }
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    # One way in every mode: hashed names from the manifest that `closeloop collectstatic` writes
    # (`closeloop serve` collects them itself outside production). With DEBUG on (runserver),
    # plain names are served from static/dist by WhiteNoise's finders instead.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG
MAX_UPLOAD_BYTES = int(os.environ.get("CLOSELOOP_MAX_UPLOAD_BYTES", str(20 * 1024 * 1024)))
# The edges of a request (closeloop.core.edges, docs/configuration.md "Limits"): a JSON or form
# body (without files) above DATA_UPLOAD_MAX_MEMORY_SIZE is a 413; so is a whole multipart
# request above MAX_REQUEST_BYTES (checked before it is read), or one with more fields or files
# than the two counts; a file name longer than MAX_FILE_NAME_LENGTH is a 422.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("CLOSELOOP_MAX_BODY_BYTES", str(2 * 1024 * 1024)))
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = int(os.environ.get("CLOSELOOP_MAX_FORM_FIELDS", "1000"))
DATA_UPLOAD_MAX_NUMBER_FILES = int(os.environ.get("CLOSELOOP_MAX_FORM_FILES", "20"))
MAX_FILE_NAME_LENGTH = 255
FILE_UPLOAD_HANDLERS = [
    "closeloop.core.edges.FileNameLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# What an attachment may be; anything else is refused (and never served inline).
# Ledger imports (closeloop.ledgers): the largest file accepted, and the zip bomb limits
# checked before an .xlsx is parsed (total unpacked size, unpacked/packed ratio per part).
LEDGERS_MAX_UPLOAD_BYTES = int(os.environ.get("CLOSELOOP_LEDGERS_MAX_UPLOAD_BYTES", str(20 * 1024 * 1024)))
LEDGERS_MAX_UNCOMPRESSED_BYTES = int(os.environ.get("CLOSELOOP_LEDGERS_MAX_UNCOMPRESSED_BYTES",
                                                    str(400 * 1024 * 1024)))
LEDGERS_MAX_COMPRESSION_RATIO = 200
MAX_REQUEST_BYTES = int(os.environ.get("CLOSELOOP_MAX_REQUEST_BYTES", str(
    max(MAX_UPLOAD_BYTES, LEDGERS_MAX_UPLOAD_BYTES) + DATA_UPLOAD_MAX_MEMORY_SIZE)))

ALLOWED_UPLOAD_TYPES = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "text/csv": ".csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/zip": ".zip",
}

# --- Security -------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "font-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = os.environ.get("CLOSELOOP_SSL_REDIRECT", "1") == "1"
    SECURE_HSTS_SECONDS = int(os.environ.get("CLOSELOOP_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Health checks from a load balancer reach us over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^livez$", r"^readyz$", r"^metrics$"]

# --- Cache ----------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- API --------------------------------------------------------------------------
# Rate limits (closeloop.core.ratelimit, docs/configuration.md "Rate limits"): "COUNT/SECONDS",
# "0" turns one off. Counted in the cache (shared with Redis, per process without it).
API_RATE_LIMIT_PER_TOKEN = os.environ.get("CLOSELOOP_API_RATE_PER_TOKEN", "1200/60")
API_RATE_LIMIT_PER_ORG = os.environ.get("CLOSELOOP_API_RATE_PER_ORG", "6000/60")
API_BAD_TOKEN_LIMIT = os.environ.get("CLOSELOOP_API_BAD_TOKEN_LIMIT", "20/300")
# Readings and alarms may be stamped this far ahead of the server clock (device clocks drift).
TELEMETRY_FUTURE_TOLERANCE_SECONDS = int(os.environ.get("CLOSELOOP_TELEMETRY_FUTURE_TOLERANCE", "300"))
# Reverse proxies whose X-Forwarded-For is believed ("127.0.0.1,10.0.0.0/8"); none by default.
TRUSTED_PROXIES = [p.strip() for p in os.environ.get("CLOSELOOP_TRUSTED_PROXIES", "").split(",") if p.strip()]
API_MAX_PAGE_SIZE = 100
IDEMPOTENCY_TTL_HOURS = 24
# A pending Idempotency-Key whose request died with its process is taken over after this long.
IDEMPOTENCY_LEASE_SECONDS = int(os.environ.get("CLOSELOOP_IDEMPOTENCY_LEASE_SECONDS", "120"))
# The Retry-After of a 503 when the database connection is lost or the database refuses to serve.
DB_UNAVAILABLE_RETRY_AFTER = int(os.environ.get("CLOSELOOP_DB_RETRY_AFTER", "5"))
NINJA_PAGINATION_MAX_LIMIT = 100

# Private/loopback addresses notification channels may reach although the SSRF guard
# refuses the others: "127.0.0.1:8025,10.0.0.0/8,[::1]:25" (address or network, optional
# port). `make demo` sets it to `closeloop notify_sink`'s ports. Nothing is allowed because
# the database is a demo.
CLOSELOOP_NOTIFY_PRIVATE_ALLOWLIST = [
    e.strip() for e in os.environ.get("CLOSELOOP_NOTIFY_PRIVATE_ALLOWLIST", "").split(",") if e.strip()]

# --- Connected systems (closeloop.connectors, docs/connectors.md) ---------------------
# How long a connected system's answer is kept before it is asked again.
CLOSELOOP_CONNECTORS_CACHE_SECONDS = int(os.environ.get("CLOSELOOP_CONNECTORS_CACHE_SECONDS", "60"))

# --- Operations (closeloop.ops, docs/deployment.md) ---------------------------------
# /readyz fails when no worker has written its heartbeat for this many seconds, or when the
# oldest due outbox message has waited longer than this (0 turns a check off).
READY_WORKER_MAX_AGE = int(os.environ.get("CLOSELOOP_READY_WORKER_MAX_AGE", "120"))
READY_OUTBOX_MAX_AGE = int(os.environ.get("CLOSELOOP_READY_OUTBOX_MAX_AGE", "600"))
# /metrics: a bearer token, and/or networks whose direct (unproxied) requests may scrape.
# Outside production loopback may scrape by default; in production nothing unless configured.
METRICS_TOKEN = os.environ.get("CLOSELOOP_METRICS_TOKEN", "")


def _networks(value: str) -> list:
    import ipaddress

    return [ipaddress.ip_network(n.strip(), strict=False) for n in value.split(",") if n.strip()]


METRICS_ALLOW = _networks(os.environ.get("CLOSELOOP_METRICS_ALLOW", "" if PRODUCTION else "127.0.0.0/8,::1/128"))

# Logs go to stderr: plain lines by default, one JSON object per line with CLOSELOOP_LOG_FORMAT=json.
LOG_FORMAT = os.environ.get("CLOSELOOP_LOG_FORMAT", "plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "closeloop.core.logs.RequestIdFilter"}},
    # Worker and server lines carry time, level and the request id behind the work when there is one:
    # "2026-12-07 08:00:01 WARNING closeloop.outbox.services [3f2a…]: ...".
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s%(rid)s: %(message)s",
                             "datefmt": "%Y-%m-%d %H:%M:%S"},
                   "json": {"()": "closeloop.core.logs.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["request_id"],
                             "formatter": "json" if LOG_FORMAT == "json" else "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CLOSELOOP_LOG_LEVEL", "WARNING")},
}

# --- Email in (closeloop.mailin, docs/email.md) ------------------------------------------------------
# The domain of the Message-IDs we send (replies name them in In-Reply-To); a mail whose own Message-ID
# is in it is our own mail coming back (mailbox passwords are sealed by core.sealing).
# CLOSELOOP_MAIL_RATE_PER_HOUR: mails an hour one sender may send in.
CLOSELOOP_MAIL_DOMAIN = os.environ.get("CLOSELOOP_MAIL_DOMAIN", "closeloop")
CLOSELOOP_MAIL_RATE_PER_HOUR = int(os.environ.get("CLOSELOOP_MAIL_RATE_PER_HOUR", "20"))
