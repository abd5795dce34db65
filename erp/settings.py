"""Concord settings: one module, every value from the environment (see .env.example).

With no DATABASE_URL and REDIS_URL the embedded servers of ``erp.embedded`` are used; their
URLs are known without starting them, so importing settings has no side effects.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

from erp import embedded

BASE_DIR = Path(__file__).resolve().parent.parent

if (BASE_DIR / ".env").exists():  # local convenience; the real environment always wins
    from dotenv import load_dotenv

    load_dotenv(BASE_DIR / ".env", override=False)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG is off. Set it in the environment (see .env.example)."
        )
    SECRET_KEY = "insecure-development-key-only-for-debug-mode-do-not-deploy-0123456789"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if not DEBUG else "*")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.forms",  # the widgets' templates, for erp.forms.FormRenderer
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_celery_beat",
    "erp",
    "warehouses",
    "inventory",
    "orders",
    "procurement",
    "finance",
    "warehouses.transfers",
    "governance",  # last: its post-migrate hooks (roles, audit triggers) need every app's tables and permissions
]

MIDDLEWARE = [
    "erp.middleware.RequestIdMiddleware",
    # API errors are JSON and no 404 shows Django's URL listing, DEBUG or not (see its docstring).
    "erp.middleware.ErrorResponseMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "erp.middleware.CommonMiddleware",  # Django's, without the trailing-slash redirect under /api/
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "erp.middleware.TimeZoneMiddleware",  # date-times on the reader's clock (after the user is known)
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "erp.urls"
FORM_RENDERER = "erp.forms.FormRenderer"
WSGI_APPLICATION = "erp.wsgi.application"

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
                "erp.context_processors.navigation",
            ],
        },
    },
]


def _database_from_url(url: str) -> dict[str, object]:
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured("DATABASE_URL must be a postgres:// URL; Concord runs on PostgreSQL only.")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parsed.path.lstrip("/")),
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": parsed.hostname or "",
        "PORT": str(parsed.port or ""),
        "CONN_MAX_AGE": int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        "CONN_HEALTH_CHECKS": True,
        "ATOMIC_REQUESTS": False,
        "TEST": {"NAME": os.environ.get("TEST_DATABASE_NAME") or None},
    }


DATABASE_URL = os.environ.get("DATABASE_URL") or embedded.database_url()
REDIS_URL = os.environ.get("REDIS_URL") or embedded.redis_url()
DATABASES = {"default": _database_from_url(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "concord",
    }
}

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "var" / "staticfiles"))
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
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise serves from it; may be empty in DEBUG

# --- Security (``manage.py check --deploy`` with DEBUG off reports nothing) -----------------
SESSION_COOKIE_SECURE = not DEBUG and env_bool("SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "erp.api.authentication.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["erp.api.permissions.RoleModelPermissions"],
    "DEFAULT_PAGINATION_CLASS": "erp.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["erp.api.parsers.ApiJSONParser"],
    "EXCEPTION_HANDLER": "erp.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "erp.api.schema.ApiAutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Concord API",
    "DESCRIPTION": "REST API v1 of Concord, the multi-warehouse distribution ERP.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # A choice set shown by more than one component (a count and its detail) needs a name of its own.
    "ENUM_NAME_OVERRIDES": {
        "CycleCountStatusEnum": "inventory.models.CycleCountStatus",
        "OrderStatusEnum": "orders.models.OrderStatus",
        "AllocationStatusEnum": "orders.models.AllocationStatus",
        "PickListStatusEnum": "orders.models.PickListStatus",
        "PickLineStatusEnum": "orders.models.PickLineStatus",
        "PickListKindEnum": "orders.models.PickListKind",
        "ShipmentStatusEnum": "orders.models.ShipmentStatus",
        "ShipmentDocumentKindEnum": "orders.models.ShipmentDocumentKind",
        "ReturnStatusEnum": "orders.models.ReturnStatus",
        "DispositionEnum": "orders.models.Disposition",
        "LocationKindEnum": "warehouses.models.LocationKind",
        "RecommendationStatusEnum": "warehouses.transfers.models.RecommendationStatus",
        "RecommendationReasonEnum": "warehouses.transfers.models.RecommendationReason",
        "TransferStatusEnum": "warehouses.transfers.models.TransferStatus",
        "WriteOffStatusEnum": "warehouses.transfers.models.WriteOffStatus",
    },
}
API_TOKEN_TTL_DAYS = int(os.environ.get("API_TOKEN_TTL_DAYS", "365"))
LOGIN_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "10"))
LOGIN_FAILURE_WINDOW = int(os.environ.get("LOGIN_FAILURE_WINDOW", "900"))
IDEMPOTENCY_KEY_TTL_HOURS = int(os.environ.get("IDEMPOTENCY_KEY_TTL_HOURS", "72"))
# A CSV import or export of more rows than this runs as a background job with a progress page.
CSV_JOB_THRESHOLD_ROWS = int(os.environ.get("CSV_JOB_THRESHOLD_ROWS", "200"))
CSV_JOB_TTL_DAYS = int(os.environ.get("CSV_JOB_TTL_DAYS", "7"))

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "beat-heartbeat": {"task": "erp.beat_heartbeat", "schedule": 30.0},
    "purge-idempotency-keys": {"task": "erp.purge_idempotency_keys", "schedule": 3600.0},
    "purge-csv-jobs": {"task": "erp.csv_jobs_purge", "schedule": 3600.0},
    "governance-deviations-expire": {"task": "governance.deviations_expire", "schedule": 900.0},
    "governance-exceptions-escalate": {"task": "governance.exceptions_escalate", "schedule": 60.0},
    "governance-notifications-relay": {"task": "governance.notifications_relay", "schedule": 300.0},
    # Hourly, so each warehouse gets its day's count soon after its own midnight; a repeat finds the same count.
    "inventory-cycle-counts-plan": {"task": "inventory.cycle_counts_plan", "schedule": 3600.0},
    # Stock arrivals queue their backorders at once; this sweep catches what a lost message left waiting.
    "orders-backorders-allocate": {"task": "orders.backorders_allocate", "schedule": 900.0},
    # Network transfer recommendations: hourly, and on demand (transfer-recommendations/refresh/).
    "transfers-recommendations-refresh": {"task": "transfers.recommendations_refresh", "schedule": 3600.0},
    # Purchase order lines past their expected date raise late_receipt: hourly, so each warehouse's lines are found
    # soon after its own midnight; an open exception is raised again, never twinned.
    "procurement-late-receipts-raise": {"task": "procurement.late_receipts_raise", "schedule": 3600.0},
}

# --- Email (notifications leave through Django's backend after commit) ----------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "concord@localhost")

# --- Domain precision -----------------------------------------------------------------------
QUANTITY_PLACES = 4
AMOUNT_PLACES = 2
UOM_FACTOR_PLACES = 6
QUANTITY_QUANTUM = Decimal(1).scaleb(-QUANTITY_PLACES)

DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "demo")

# --- Logging: one JSON object per line, with the request id -----------------------------------
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "erp.logging.RequestIdFilter"}},
    "formatters": {"json": {"()": "erp.logging.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.server": {"level": "WARNING"},
    },
}
