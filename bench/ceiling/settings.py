"""Settings of the ceiling app: no middleware, one installed app, one table.

CEILING_DATABASE_URL=postgres://... selects PostgreSQL; else SQLite at
$CEILING_DATA_DIR/ceiling.sqlite3 with the same PRAGMAs and persistent connection as
closeloop's own SQLite settings, so the comparison is about the application, not the
database configuration.
"""

import os
from pathlib import Path

DEBUG = False
SECRET_KEY = os.environ.get("CEILING_SECRET_KEY", "ceiling-bench-only")
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["ceiling"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "ceiling.urls"
WSGI_APPLICATION = "ceiling.wsgi.application"
USE_TZ = True
TIME_ZONE = "Asia/Shanghai"
USE_I18N = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
TEMPLATES: list = []
LOGGING_CONFIG = None

DATA_DIR = Path(os.environ.get("CEILING_DATA_DIR", Path(__file__).resolve().parents[2] / "var" / "ceiling"))
URL = os.environ.get("CEILING_DATABASE_URL", "")
if URL:
    from urllib.parse import urlsplit

    u = urlsplit(URL)
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.postgresql", "NAME": u.path.lstrip("/"), "USER": u.username or "",
        "PASSWORD": u.password or "", "HOST": u.hostname or "", "PORT": str(u.port or 5432),
        "CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True,
    }}
else:
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.sqlite3", "NAME": DATA_DIR / "ceiling.sqlite3",
        "CONN_MAX_AGE": 600, "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE", "timeout": 30,
            "init_command": ("PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA cache_size=-64000;"
                             "PRAGMA mmap_size=268435456;PRAGMA temp_store=MEMORY"),
        },
    }}

# The bearer token the benchmark sends (compared in constant time, no database).
API_TOKEN = os.environ.get("CEILING_TOKEN", "ceiling-token")
