"""Accord's one settings module, driven by environment variables.

With no environment at all it runs the embedded default: SQLite next to the code, Celery tasks
executed in-process, e-mail printed to the console. Production sets ACCORD_ENV=production, which
refuses to start without a real SECRET_KEY and turns on the secure cookie and HSTS settings.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

ACCORD_ENV = env.str("ACCORD_ENV", default="development")
PRODUCTION = ACCORD_ENV == "production"

_INSECURE_DEFAULT_KEY = "django-insecure-accord-embedded-default-do-not-deploy"
SECRET_KEY = env.str("SECRET_KEY", default="" if PRODUCTION else _INSECURE_DEFAULT_KEY)
if PRODUCTION and (not SECRET_KEY or SECRET_KEY == _INSECURE_DEFAULT_KEY or len(SECRET_KEY) < 40):
    raise environ.ImproperlyConfigured(
        "ACCORD_ENV=production needs SECRET_KEY set to a random string of 40+ characters."
    )

DEBUG = env.bool("DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_fsm",
    "import_export",
    "django_celery_beat",
    "rest_framework",
    "core",
    "accounts_app",
    "workflow",
    "crm",
    "coverage",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.middleware.RefuseNulInQueryMiddleware",  # PostgreSQL cannot hold NUL: 400, not 500
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "workflow.context_processors.person",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The hot queries of the nomination and cycle pages are compiled into SQL once per process
# (core/prepared.py); with this on (the test suite), every use also compiles them the ORM's way
# and fails on a difference.
PREPARED_QUERIES_CHECK = env.bool("PREPARED_QUERIES_CHECK", default=False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads (runserver, in-process tasks) share the file: wait instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("timeout", 20)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Tests on a file of their own, not Django's default shared-memory URI: pytest-xdist's
    # workers append their name to it (test_db.sqlite3_gw0), which a URI cannot take.
    DATABASES["default"].setdefault("TEST", {}).setdefault(
        "NAME", str(BASE_DIR / "test_db.sqlite3")
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "workflow:queue"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Bootstrap comes from the xstatic-bootstrap package and is served by whitenoise: no CDN.
import xstatic.pkg.bootstrap  # noqa: E402

STATICFILES_DIRS.append(("bootstrap", xstatic.pkg.bootstrap.BASE_DIR))

# E-mail: console by default; EMAIL_URL (smtp://user:pass@host:587/?tls=True) for real mail.
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _email.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Accord <accord@localhost>")
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

# Celery: with no broker the tasks run in-process (the embedded default).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "workflow-remind-and-escalate": {
        "task": "workflow.tasks.remind_waiting_nominations",
        "schedule": 60 * 60,
    },
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)

# Structured logs (config/logging.py): JSON lines in production, readable text in development.
from config import logging as accord_logging  # noqa: E402

LOG_FORMAT = env.str("LOG_FORMAT", default="json" if PRODUCTION else "text")
if LOG_FORMAT not in accord_logging.FORMATS:
    raise environ.ImproperlyConfigured(
        f"LOG_FORMAT must be one of {', '.join(accord_logging.FORMATS)}, not {LOG_FORMAT!r}."
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"structured": accord_logging.formatter(LOG_FORMAT)},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
accord_logging.configure_structlog()

# REST API ----------------------------------------------------------------------------------------
# /api/v1/ (DRF), the OpenAPI schema at /api/schema/ and Swagger UI at /api/docs/, whose files come
# from the drf-spectacular-sidecar package (no CDN). See docs/api.md.
INSTALLED_APPS += [
    "django_filters",
    "django_tables2",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "knox",
    "api",
]

# API tokens are knox's, stored hashed in api.ApiToken (docs/api.md, "Tokens are shown once").
# Knox's own model is swapped out; its migrations would still create an empty knox_authtoken
# table, so they are switched off (a swapped model gets no table without them, not even in the
# test database).
KNOX_TOKEN_MODEL = "api.ApiToken"
MIGRATION_MODULES = {"knox": None}
REST_KNOX = {"AUTH_HEADER_PREFIX": "Token", "TOKEN_TTL": None}
# How long a token lives, in days, from when it is made; 0 = until it is revoked. People's
# tokens (`accord_user --token`) expire by default; integration tokens, which run unattended
# jobs, only when API_INTEGRATION_TOKEN_TTL_DAYS is set.
API_TOKEN_TTL_DAYS = env.int("API_TOKEN_TTL_DAYS", default=90)
API_INTEGRATION_TOKEN_TTL_DAYS = env.int("API_INTEGRATION_TOKEN_TTL_DAYS", default=0)

REST_FRAMEWORK = {
    # Token first: a request without credentials gets 401 with `WWW-Authenticate: Token`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.IsMember"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.AnonThrottle", "api.throttling.UserThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/min"),
        "user": env.str("API_THROTTLE_USER", default="1200/min"),
    },
    "DEFAULT_SCHEMA_CLASS": "api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# Throttle counters live in the default cache: set CACHE_URL (e.g. redis://127.0.0.1:6379/1) so
# several web processes share them; the embedded default keeps them per process.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["BACKEND"] = "core.cache.RedisCache"  # one redis-py client, not one a call
# Sessions are read from the cache when every web process shares it (Redis): a query less on
# every request. With the default memory cache, one per process, a session ended (signed out)
# in one process would live on in the others' caches: there they are read from the database.
CACHE_SHARED = "redis" in CACHES["default"]["BACKEND"].lower()  # by every web and worker process
SESSION_ENGINE = (
    "django.contrib.sessions.backends.cached_db"
    if CACHE_SHARED
    else "django.contrib.sessions.backends.db"
)

SPECTACULAR_SETTINGS = {
    "TITLE": "Accord API",
    "DESCRIPTION": (
        "Marketing and sales agree, in writing, on the key accounts they pursue together. "
        "Authenticate with `Authorization: Token <key>` (or a signed-in browser session with "
        "CSRF). Every POST accepts an `Idempotency-Key` header. See docs/api.md."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and Swagger UI are for signed-in people and tokens, like every other page.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # `<id:…>` in URLs (core.ids): a positive 64-bit integer; larger numbers answer 404.
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 2**63 - 1}
    },
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.forbid_unknown_request_fields",
        "api.schema.empty_query_values_mean_absent",
        "api.schema.short_component_names",
    ],
    "ENUM_NAME_OVERRIDES": {
        "NominationStateEnum": "workflow.models.State",
        "CycleStateEnum": "workflow.models.CycleState",
        "SideEnum": "core.roles.Side",
        "TierEnum": "api.serializers.TIER_CHOICES",
        "BuyingRoleEnum": "accounts_app.models.BuyingRole",
        "CoverageStageEnum": "coverage.models.Stage",
        "CoverageGapEnum": "coverage.models.Gap",
    },
}

# Bodies above DATA_UPLOAD_MAX_MEMORY_SIZE (Django's 2.5 MB default) are refused with a JSON 413.
API_IDEMPOTENCY_TTL_HOURS = env.int("API_IDEMPOTENCY_TTL_HOURS", default=24)
# A CRM-side job polling the agreed list passes back `next_updated_since`, which lies this many
# seconds before the latest change, so a change still committing while it read is read again.
API_UPDATED_SINCE_MARGIN_SECONDS = env.int("API_UPDATED_SINCE_MARGIN_SECONDS", default=30)
CELERY_BEAT_SCHEDULE["api-expire-idempotency-keys"] = {
    "task": "api.tasks.expire_idempotency_keys",
    "schedule": 60 * 60,
}

# Login lockout (django-axes) on the sign-in page and the admin ------------------------------------
# With it on, authenticate() needs the request: tests pass one to client.login(request=...)
# or use client.force_login().
INSTALLED_APPS += ["axes"]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "core.backends.AccordBackend",  # ModelBackend, one query for the permissions
]
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.int("AXES_COOLOFF_MINUTES", default=15) / 60  # hours, as a float
# Lock the pair (username, address): a stranger cannot lock a colleague out from elsewhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The address: REMOTE_ADDR, unless Accord runs behind TRUSTED_PROXY_COUNT proxies that each append
# the address they saw to X-Forwarded-For (config/client_ip.py, with django-ipware).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "config.client_ip.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False  # no start-up banner in every management command's output

# CRM sync ----------------------------------------------------------------------------------------
# The agreed list goes to the CRM through the outbox (crm/outbox.py) and Celery. See docs/crm.md.
CRM_BACKEND = env.str("CRM_BACKEND", default="none")  # hubspot | salesforce | webhook | none
HUBSPOT_BASE_URL = env.str("HUBSPOT_BASE_URL", default="https://api.hubapi.com")
HUBSPOT_ACCESS_TOKEN = env.str("HUBSPOT_ACCESS_TOKEN", default="")
HUBSPOT_ACCOUNT_KEY_PROPERTY = env.str("HUBSPOT_ACCOUNT_KEY_PROPERTY", default="accord_account_key")
HUBSPOT_RATE_LIMIT = env.int("HUBSPOT_RATE_LIMIT", default=100)  # requests per 10 s (plan: 100/190)
HUBSPOT_RATE_WINDOW_SECONDS = env.float("HUBSPOT_RATE_WINDOW_SECONDS", default=10.0)
HUBSPOT_SEARCH_RATE_LIMIT = env.int("HUBSPOT_SEARCH_RATE_LIMIT", default=5)  # per second
HUBSPOT_MATCH_DOMAINS = env.bool("HUBSPOT_MATCH_DOMAINS", default=True)
SALESFORCE_LOGIN_URL = env.str("SALESFORCE_LOGIN_URL", default="https://login.salesforce.com")
SALESFORCE_CLIENT_ID = env.str("SALESFORCE_CLIENT_ID", default="")
SALESFORCE_CLIENT_SECRET = env.str("SALESFORCE_CLIENT_SECRET", default="")
SALESFORCE_API_VERSION = env.str("SALESFORCE_API_VERSION", default="62.0")
SALESFORCE_EXTERNAL_ID_FIELD = env.str(
    "SALESFORCE_EXTERNAL_ID_FIELD", default="Accord_Account_Key__c"
)
SALESFORCE_TARGET_FIELD = env.str("SALESFORCE_TARGET_FIELD", default="Accord_Target_Account__c")
SALESFORCE_TIER_FIELD = env.str("SALESFORCE_TIER_FIELD", default="Accord_Tier__c")
SALESFORCE_RATE_LIMIT = env.int("SALESFORCE_RATE_LIMIT", default=100)  # requests per 10 s
CRM_WEBHOOK_URL = env.str("CRM_WEBHOOK_URL", default="")
CRM_WEBHOOK_SECRET = env.str("CRM_WEBHOOK_SECRET", default="")
CRM_WEBHOOK_BATCH_SIZE = env.int("CRM_WEBHOOK_BATCH_SIZE", default=100)
CRM_WEBHOOK_RATE_LIMIT = env.int("CRM_WEBHOOK_RATE_LIMIT", default=100)  # requests per 10 s
# Requests leave at CRM_RATE_LIMIT_HEADROOM × the limit, from a token bucket shared by every
# worker in Redis (the broker's Redis unless set; an in-process bucket without Redis).
CRM_RATE_LIMIT_HEADROOM = env.float("CRM_RATE_LIMIT_HEADROOM", default=0.95)
CRM_RATE_LIMIT_REDIS_URL = env.str(
    "CRM_RATE_LIMIT_REDIS_URL",
    default=CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else "",
)
CRM_HTTP_TIMEOUT_SECONDS = env.float("CRM_HTTP_TIMEOUT_SECONDS", default=10.0)
CRM_HTTP_MAX_TRIES = env.int("CRM_HTTP_MAX_TRIES", default=5)  # per request, idempotent ones only
CRM_RETRY_BASE_SECONDS = env.float("CRM_RETRY_BASE_SECONDS", default=1.0)
CRM_RETRY_MAX_SECONDS = env.float("CRM_RETRY_MAX_SECONDS", default=30.0)
CRM_RETRY_AFTER_MAX_SECONDS = env.float("CRM_RETRY_AFTER_MAX_SECONDS", default=60.0)
# Retries of one batch stop after this long (the entries come back later), so a batch always ends
# within its entries' lease and the task's time limit; until then its lease is renewed at each
# request.
CRM_BATCH_MAX_SECONDS = env.int("CRM_BATCH_MAX_SECONDS", default=120)
CRM_DEFER_ON_DAILY_LIMIT_SECONDS = env.int("CRM_DEFER_ON_DAILY_LIMIT_SECONDS", default=3600)
# The outbox: attempts before an entry goes to the dead letter (failed; taking over a dead
# worker's lease counts one), the lease a worker holds on the entries it pushes, when the
# sweeper takes over from the after-commit push, the wait between attempts (doubling), and how
# long one push task may run before handing over.
CRM_OUTBOX_MAX_ATTEMPTS = env.int("CRM_OUTBOX_MAX_ATTEMPTS", default=8)
CRM_OUTBOX_LEASE_SECONDS = env.int("CRM_OUTBOX_LEASE_SECONDS", default=300)
CRM_OUTBOX_SWEEP_AFTER_SECONDS = env.int("CRM_OUTBOX_SWEEP_AFTER_SECONDS", default=60)
CRM_OUTBOX_RETRY_BASE_SECONDS = env.int("CRM_OUTBOX_RETRY_BASE_SECONDS", default=60)
CRM_OUTBOX_RETRY_MAX_SECONDS = env.int("CRM_OUTBOX_RETRY_MAX_SECONDS", default=3600)
CRM_PUSH_TIME_BUDGET_SECONDS = env.int("CRM_PUSH_TIME_BUDGET_SECONDS", default=150)
# Threads of one big push (sweeper, crm_push, a push ops start): each claims its own chunks, the
# shared bucket paces them all; more than one keeps the CRM's pace when the database is slow.
CRM_PUSH_CONCURRENCY = env.int("CRM_PUSH_CONCURRENCY", default=2)
# Batches claimed, read and settled together (each still sent in its own request).
CRM_PUSH_BATCHES_PER_CLAIM = env.int("CRM_PUSH_BATCHES_PER_CLAIM", default=5)
# A push run lists the records it sent (account, CRM id, change) for its first this many.
CRM_RUN_RECORDS_KEPT = env.int("CRM_RUN_RECORDS_KEPT", default=1000)

# Celery reliability: a task is acknowledged only when it has finished, and given back to the
# queue when its worker dies; one task at a time per process; JSON only. The broker's visibility
# timeout (how long Redis waits before handing an unacknowledged task to another worker) is far
# longer than the longest task (its hard time limit), so a slow task is never run twice at once.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=360)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# Publishing gives up quickly when Redis is down: the approval has committed and the outbox
# sweeper delivers later; the web request must not hang.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# The sweeper's schedule is a row of django-celery-beat (seeded by crm/migrations, editable in
# the admin under Periodic tasks), not an entry here: entries here are rewritten at every start of
# beat, so admin edits to them would not last.
LOGGING["loggers"]["httpx"] = {"level": "WARNING"}  # one line per CRM request is too much

# The pull (crm/pull/) and the inbound HubSpot webhook (crm/webhooks.py); see docs/crm.md. The
# pull's schedule (every 15 minutes) is a django-celery-beat row seeded by crm/migrations/0006,
# editable in the admin like the sweeper's.
CRM_PULL_CREATE_ACCOUNTS = env.bool("CRM_PULL_CREATE_ACCOUNTS", default=True)
CRM_PULL_OVERLAP_SECONDS = env.int("CRM_PULL_OVERLAP_SECONDS", default=300)
CRM_PULL_LEASE_SECONDS = env.int("CRM_PULL_LEASE_SECONDS", default=600)
CRM_PULL_TIME_BUDGET_SECONDS = env.int("CRM_PULL_TIME_BUDGET_SECONDS", default=240)
CRM_PULL_DEFAULT_CURRENCY = env.str("CRM_PULL_DEFAULT_CURRENCY", default="USD")
SALESFORCE_MULTI_CURRENCY = env.bool("SALESFORCE_MULTI_CURRENCY", default=False)
# HubSpot signs its webhook requests with the app's client secret (X-HubSpot-Signature-v3).
# HUBSPOT_WEBHOOK_URL: the target URL exactly as set in HubSpot, when a proxy in front of Accord
# changes the scheme, host or path Django sees (the signature covers the URL).
HUBSPOT_CLIENT_SECRET = env.str("HUBSPOT_CLIENT_SECRET", default="")
HUBSPOT_WEBHOOK_URL = env.str("HUBSPOT_WEBHOOK_URL", default="")
CRM_WEBHOOK_EVENTS_KEEP_DAYS = env.int("CRM_WEBHOOK_EVENTS_KEEP_DAYS", default=7)
# The sync runs' enums in the API schema (/api/v1/sync-runs/), named apart from the workflow's
# (a nomination's `kind` keeps its name, KindEnum).
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {
        "KindEnum": "workflow.models.NominationKind",
        "SyncKindEnum": "crm.models.SyncKind",
        "SyncStateEnum": "crm.models.SyncState",
        "SyncTriggerEnum": "crm.models.SyncTrigger",
        "CrmBackendEnum": "crm.models.Backend",
    }
)

# The CSV import of accounts and of activities (accounts_app.imports): the largest file ops may
# upload (the file is kept in the database with its import), rows per batch, how long a check or
# an import may show no progress before csv_imports_resume queues it again, and how many runs of
# a step may stop without finishing before the import is given up. Each is still read from its
# name of before activities were imported too (ACCOUNT_IMPORT_…) when the new one is not set.


def _csv_import_setting(name: str, default: int) -> int:
    return env.int(f"CSV_IMPORT_{name}", default=env.int(f"ACCOUNT_IMPORT_{name}", default=default))


CSV_IMPORT_MAX_BYTES = _csv_import_setting("MAX_BYTES", 30 * 2**20)
CSV_IMPORT_BATCH_SIZE = _csv_import_setting("BATCH_SIZE", 2000)
CSV_IMPORT_STALE_SECONDS = _csv_import_setting("STALE_SECONDS", 600)
CSV_IMPORT_MAX_ATTEMPTS = _csv_import_setting("MAX_ATTEMPTS", 3)
CELERY_BEAT_SCHEDULE["csv-resume-imports"] = {
    "task": "accounts_app.tasks.resume_csv_imports",
    "schedule": 5 * 60,
}

# Coverage: snapshots (coverage/services.py) ---------------------------------------------------
# PostgreSQL's work_mem for a snapshot's aggregate queries (a batch job: the distinct contacts
# of a month's activities spill to disk at the server's default of 4 MB).
COVERAGE_SNAPSHOT_WORK_MEM = env.str("COVERAGE_SNAPSHOT_WORK_MEM", default="64MB")
# A snapshot still "running" this long after it started was abandoned (its worker or command
# stopped; the task's own limit is CELERY_TASK_TIME_LIMIT): it is no longer shown as being
# taken, and the cycle's next snapshot marks it failed.
COVERAGE_SNAPSHOT_STALE_MINUTES = env.int("COVERAGE_SNAPSHOT_STALE_MINUTES", default=60)

# Coverage: the weekly digest (coverage/digest.py, coverage/slack.py); see docs/operations.md ------
# Its schedule is a django-celery-beat row seeded by coverage/migrations/0006 from these two
# settings (editable in the admin afterwards, like the nightly snapshot's): the day, 0 = Monday …
# 6 = Sunday, and the hour, in TIME_ZONE.
COVERAGE_DIGEST_WEEKDAY = env.int("COVERAGE_DIGEST_WEEKDAY", default=0)
COVERAGE_DIGEST_HOUR = env.int("COVERAGE_DIGEST_HOUR", default=8)
if not 0 <= COVERAGE_DIGEST_WEEKDAY <= 6 or not 0 <= COVERAGE_DIGEST_HOUR <= 23:
    raise environ.ImproperlyConfigured(
        "COVERAGE_DIGEST_WEEKDAY must be 0 (Monday) to 6 (Sunday), COVERAGE_DIGEST_HOUR 0 to 23."
    )
# A Slack incoming webhook (a secret: from the environment only); empty = no Slack post.
COVERAGE_DIGEST_SLACK_WEBHOOK_URL = env.str("COVERAGE_DIGEST_SLACK_WEBHOOK_URL", default="")
COVERAGE_SLACK_TIMEOUT_SECONDS = env.float("COVERAGE_SLACK_TIMEOUT_SECONDS", default=10.0)
COVERAGE_SLACK_MAX_TRIES = env.int("COVERAGE_SLACK_MAX_TRIES", default=4)
COVERAGE_SLACK_RETRY_AFTER_MAX_SECONDS = env.float(
    "COVERAGE_SLACK_RETRY_AFTER_MAX_SECONDS", default=60.0
)

# Operations: health, metrics, request ids in the logs, security headers (docs/operations.md) ----
INSTALLED_APPS += ["django_prometheus", "django_structlog", "csp", "monitoring"]
# django-prometheus times every request between its two middlewares (outermost on both sides);
# django-structlog binds a request id once the user is known; django-csp sets the policy.
MIDDLEWARE.insert(0, "django_prometheus.middleware.PrometheusBeforeMiddleware")
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "csp.middleware.CSPMiddleware",
)
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "django_structlog.middlewares.RequestMiddleware",
)
MIDDLEWARE.append("django_prometheus.middleware.PrometheusAfterMiddleware")
# Database metrics (queries, errors, connections): django-prometheus's wrapper of the backend.
_PROMETHEUS_ENGINES = {
    "django.db.backends.postgresql": "django_prometheus.db.backends.postgresql",
    "django.db.backends.sqlite3": "django_prometheus.db.backends.sqlite3",
}
DATABASES["default"]["ENGINE"] = _PROMETHEUS_ENGINES.get(
    DATABASES["default"]["ENGINE"], DATABASES["default"]["ENGINE"]
)

# /healthz (monitoring/health.py) fails, with a 503, when the change waiting longest for the
# CRM has waited longer than this, or when more outbox entries than this are dead letters.
HEALTH_OUTBOX_MAX_AGE_SECONDS = env.int("HEALTH_OUTBOX_MAX_AGE_SECONDS", default=3600)
HEALTH_MAX_DEAD_LETTERS = env.int("HEALTH_MAX_DEAD_LETTERS", default=100)

# /metrics (monitoring/metrics.py) answers these networks (CIDRs; the client's address behind
# TRUSTED_PROXY_COUNT proxies) and requests with `Authorization: Bearer <METRICS_TOKEN>`.
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"])
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
try:
    import ipaddress

    for _network in METRICS_ALLOWED_NETWORKS:
        ipaddress.ip_network(_network, strict=False)
except ValueError as error:
    raise environ.ImproperlyConfigured(f"METRICS_ALLOWED_NETWORKS: {error}") from error
if PRODUCTION and METRICS_TOKEN and len(METRICS_TOKEN) < 32:
    raise environ.ImproperlyConfigured("METRICS_TOKEN must be 32+ random characters.")

# django-structlog: a request id on every line of a request, handed to the tasks it queues
# (the worker side is a boot step in config/celery.py).
DJANGO_STRUCTLOG_CELERY_ENABLED = True
# The address is bound by monitoring.apps.bind_client_ip (behind TRUSTED_PROXY_COUNT proxies).
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False

# Content-Security-Policy (django-csp): scripts, styles, fonts and images from Accord's own
# origin only (no inline script or style: the pages and the admin use static files), images
# also as data: URIs (Bootstrap's and Swagger UI's icons are SVGs in their stylesheets).
from csp.constants import NONE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
