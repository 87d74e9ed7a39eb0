"""Settings of the WSOP Automation Hub.

Everything a deployment changes comes from the environment (or a `.env` file beside manage.py),
read through django-environ. Two run modes share one code path:

* embedded (default): no servers. SQLite in WAL mode, django-q2's ORM broker, live events relayed
  through the database.
* production: `DATABASE_URL` names PostgreSQL and `REDIS_URL` names Redis (django-q2 broker and
  Channels layer).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import urlparse

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --------------------------------------------------------------------------------------------------
# Run mode
# --------------------------------------------------------------------------------------------------
VAR_DIR = Path(env.str("HUB_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

REDIS_URL: str = env.str("REDIS_URL", default="")
HUB_MODE = "production" if REDIS_URL else "embedded"

DEBUG = env.bool("DEBUG", default=False)


def _secret_key() -> str:
    """Production must be given its key; the embedded mode keeps a generated one in var/."""
    key = env.str("SECRET_KEY", default="")
    if key:
        return key
    if HUB_MODE == "production":
        raise ImproperlyConfigured("SECRET_KEY must be set when REDIS_URL selects production mode")
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --------------------------------------------------------------------------------------------------
# Applications
# --------------------------------------------------------------------------------------------------
INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "channels",
    "django_q",
    "automation_hub",
    "hands",
    "rendering",
    "monitoring",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "automation_hub.urls"
WSGI_APPLICATION = "automation_hub.wsgi.application"
ASGI_APPLICATION = "automation_hub.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            # when / duration / thousands: how every page writes times, durations and counts.
            "builtins": ["automation_hub.templatetags.hub_format"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --------------------------------------------------------------------------------------------------
# Database
# --------------------------------------------------------------------------------------------------
_SQLITE_DEFAULT = f"sqlite:///{VAR_DIR / 'hub.sqlite3'}"
DATABASES = {"default": env.db_url("DATABASE_URL", default=_SQLITE_DEFAULT)}
DB_VENDOR = "sqlite" if DATABASES["default"]["ENGINE"].endswith("sqlite3") else "postgresql"

if DB_VENDOR == "sqlite":
    # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN so two
    # workers never both read then fail to upgrade (SQLITE_BUSY mid-transaction is not retried).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
        ),
    }
    # Tests that start worker processes need a real file that every process can open.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_hub.sqlite3")}
else:
    # Django's backend with a short retry while PostgreSQL refuses connections (a restart):
    # automation_hub/db/postgresql/base.py.
    DATABASES["default"]["ENGINE"] = "automation_hub.db.postgresql"
    # Reused connections: the ORM broker and the workers query in tight loops.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Server-side parameters, and statements prepared after DB_PREPARE_THRESHOLD runs on a
    # connection: the render workers repeat the same few statements for every job, and PostgreSQL
    # then skips parsing and planning them. Behind a transaction-mode pooler (PgBouncer without
    # prepared-statement support) set DB_PREPARE_THRESHOLD= (empty) to turn preparing off.
    _prepare_threshold = env.str("DB_PREPARE_THRESHOLD", default="5")
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True,
        prepare_threshold=int(_prepare_threshold) if _prepare_threshold else None,
    )

# How long opening a database connection is retried while it is refused (0: not at all).
DB_CONNECT_RETRY_SECONDS: float = env.float("DB_CONNECT_RETRY_SECONDS", default=4.0)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --------------------------------------------------------------------------------------------------
# Auth, i18n, static
# --------------------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True  # serve straight from the app folders: no collectstatic step

# Request bodies: a CSV upload's file may be this large; any other body DATA_UPLOAD_MAX_MEMORY_SIZE
# (Django's default, 2.5 MB). Larger ones are refused (413) before they are read
# (automation_hub/body_limit.py).
UPLOAD_MAX_BYTES: int = env.int("UPLOAD_MAX_BYTES", default=5 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE: int = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)

# Where rendered files go: the NAS mount in production.
OUTPUT_ROOT = Path(env.str("OUTPUT_ROOT", default=str(VAR_DIR / "output")))

# --------------------------------------------------------------------------------------------------
# REST framework and OpenAPI
# --------------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # The first class's header answers unauthenticated calls, so they get 401 with
    # `WWW-Authenticate: Api-Key` instead of the session class's bare 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "automation_hub.api.authentication.ApiKeyAuthentication",
        "automation_hub.api.authentication.ThrottledBasicAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Least privilege: people only, unless a view names the producer roles it admits.
    "DEFAULT_PERMISSION_CLASSES": ["automation_hub.api.permissions.IsPerson"],
    "DEFAULT_THROTTLE_CLASSES": ["automation_hub.api.throttles.CallerRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "automation_hub.api.pagination.HubPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "automation_hub.api.errors.hub_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "automation_hub.api.schema.HubAutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON bodies only; the CSV import takes its multipart upload itself.
    "DEFAULT_PARSER_CLASSES": ["automation_hub.api.parsers.HubJSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# Requests per caller (each producer key; each person) that the API serves, per rate unit
# (s, min, hour, day); past it → 429 with Retry-After. Sized for a broadcast day with room to
# spare: a feature table sends a hand every minute or two (resends included), the sub desk
# creates and polls instructions, every ae machine claims and heartbeats every few seconds
# (all machines may share one key), Prometheus scrapes every 15 s.
API_THROTTLE_RATES: dict = env.json(
    "API_THROTTLE_RATES",
    default={
        "feature_table": "600/min",
        "sub": "1200/min",
        "ae": "2400/min",
        "metrics": "120/min",
        "person": "1200/min",
    },
)
# OpenAPI schema and Swagger UI: signed-in people only, unless this is true.
API_DOCS_PUBLIC: bool = env.bool("API_DOCS_PUBLIC", default=False)
SPECTACULAR_SETTINGS = {
    "TITLE": "WSOP Automation Hub API",
    "DESCRIPTION": "Producers, render queue, monitoring and manual override.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and Swagger UI: signed-in people, or anyone with API_DOCS_PUBLIC=true.
    "SERVE_PERMISSIONS": ["automation_hub.api.permissions.ApiDocsReader"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "integer", "minimum": 0, "maximum": 999_999_999_999_999_999}
    },
    # Several "status" choice sets (instruction, render output, tournament): name them.
    "ENUM_NAME_OVERRIDES": {
        "InstructionStatusEnum": "rendering.models.InstructionStatus",
        "RenderOutputStatusEnum": "rendering.models.OutputStatus",
        "BlockStatusEnum": "monitoring.models.BlockStatus",
        "SyncRunStatusEnum": "monitoring.models.SyncRun.Status",
        "ProducerStatusEnum": "monitoring.selectors.producers.PRODUCER_STATUSES",
    },
}

# --------------------------------------------------------------------------------------------------
# Hands: what counts as premium and which template a premium hand gets
# --------------------------------------------------------------------------------------------------
PREMIUM_HAND_MIN_RANK: str = env.str("PREMIUM_HAND_MIN_RANK", default="royal_flush")
# hand rank -> {"template": ..., "priority": ...}; ranks not listed fall back to "default".
PREMIUM_TEMPLATE_RULES: dict = env.json(
    "PREMIUM_TEMPLATE_RULES",
    default={
        "royal_flush": {"template": "premium_royal_flush", "priority": 1},
        "straight_flush": {"template": "premium_straight_flush", "priority": 2},
        "four_of_a_kind": {"template": "premium_quads", "priority": 3},
        "default": {"template": "premium_hand", "priority": 4},
    },
)

# --------------------------------------------------------------------------------------------------
# Render queue (SPEC §3)
# --------------------------------------------------------------------------------------------------
RENDER_BACKEND: str = env.str("RENDER_BACKEND", default="preview")  # preview | nexrender | noop
RENDER_DEFAULT_MAX_RETRIES: int = env.int("RENDER_DEFAULT_MAX_RETRIES", default=3)
NEXRENDER_URL: str = env.str("NEXRENDER_URL", default="http://127.0.0.1:3050")
NEXRENDER_SECRET: str = env.str("NEXRENDER_SECRET", default="")
NEXRENDER_TEMPLATE_ROOT: str = env.str("NEXRENDER_TEMPLATE_ROOT", default="file:///templates")
# The follower polls every job's status this often (one call for all); a job left picked/started
# without news this long is re-queued on the server (Nexrender itself never does), at most
# NEXRENDER_MAX_REQUEUES times.
NEXRENDER_POLL_SECONDS: float = env.float("NEXRENDER_POLL_SECONDS", default=0.25)
NEXRENDER_STUCK_SECONDS: int = env.int("NEXRENDER_STUCK_SECONDS", default=300)
NEXRENDER_MAX_REQUEUES: int = env.int("NEXRENDER_MAX_REQUEUES", default=2)
NEXRENDER_HTTP_TIMEOUT_SECONDS: float = env.float("NEXRENDER_HTTP_TIMEOUT_SECONDS", default=10.0)
# Job uids are `<prefix>-<instruction id>-<token>`: two hubs sharing one server never collide.
NEXRENDER_JOB_PREFIX: str = env.str("NEXRENDER_JOB_PREFIX", default="hub")
# Jobs kept on the server at once (followed by the nexrender-follower, one status call a poll):
# the farm's machine count plus a few queued, so a machine that finishes picks the next job at
# once. 12 keeps ~10 AE machines busy.
NEXRENDER_MAX_IN_FLIGHT: int = env.int("NEXRENDER_MAX_IN_FLIGHT", default=12)
# A job still `queued` on the server after this long: the farm is saturated; the job goes back
# to the hub's queue (no retry spent) and a `farm_saturated` event shows it.
NEXRENDER_QUEUED_SECONDS: int = env.int("NEXRENDER_QUEUED_SECONDS", default=180)
# Status polls that fail are retried with backoff this long before the followed jobs are released
# (their jobs stay on the server; the next claim adopts them).
NEXRENDER_OUTAGE_SECONDS: int = env.int("NEXRENDER_OUTAGE_SECONDS", default=60)
# One wake-up keeps claiming work for up to this long, so a burst does not need one message per job.
RENDER_TASK_BUDGET_SECONDS: float = env.float("RENDER_TASK_BUDGET_SECONDS", default=30.0)
# A new wake-up is not sent while this many wait untaken in the broker (0: one per instruction).
RENDER_WAKEUP_BACKLOG: int = env.int("RENDER_WAKEUP_BACKLOG", default=8)
# Retry policy per backend ("default" for the others): fixed | exponential, delays in seconds.
RENDER_RETRY_POLICIES: dict = env.json(
    "RENDER_RETRY_POLICIES",
    default={
        "default": {"strategy": "exponential", "base_delay": 10, "max_delay": 600},
        "preview": {"strategy": "fixed", "base_delay": 5},
        "nexrender": {"strategy": "exponential", "base_delay": 30, "max_delay": 900},
        "ae": {"strategy": "exponential", "base_delay": 30, "max_delay": 900},
    },
)
# Circuit breaker per backend: this many consecutive outages open it; it half-opens after the reset.
RENDER_BREAKER_THRESHOLD: int = env.int("RENDER_BREAKER_THRESHOLD", default=5)
RENDER_BREAKER_RESET_SECONDS: int = env.int("RENDER_BREAKER_RESET_SECONDS", default=60)
# Schedules (django-q2, created by `migrate`): zombie hunter and database sweep, in minutes. The
# queue supervisor does the same every few seconds; these are the backstop when it is not running.
RENDER_REAP_EVERY_MINUTES: int = env.int("RENDER_REAP_EVERY_MINUTES", default=1)
RENDER_SWEEP_EVERY_MINUTES: int = env.int("RENDER_SWEEP_EVERY_MINUTES", default=1)
RENDER_SWEEP_MAX_WAKEUPS: int = env.int("RENDER_SWEEP_MAX_WAKEUPS", default=64)

# --------------------------------------------------------------------------------------------------
# Render queue liveness and recovery (README: "Timeouts")
# --------------------------------------------------------------------------------------------------
# A worker process shows it is alive from its own thread this often, whatever the render is doing.
RENDER_HEARTBEAT_SECONDS: float = env.float("RENDER_HEARTBEAT_SECONDS", default=3.0)
# The lease: a job whose holder was not heard from for this long is taken back (a holder that is
# gone from this host is taken back at once, without waiting for it).
RENDER_ZOMBIE_TIMEOUT_SECONDS: int = env.int("RENDER_ZOMBIE_TIMEOUT_SECONDS", default=30)
# The queue supervisor (`manage.py queue_supervisor`, started by `make run`): how often it reaps,
# how often it tops up wake-ups; failed jobs are re-queued the moment their backoff ends.
RENDER_REAP_INTERVAL_SECONDS: float = env.float("RENDER_REAP_INTERVAL_SECONDS", default=2.0)
RENDER_SWEEP_INTERVAL_SECONDS: float = env.float("RENDER_SWEEP_INTERVAL_SECONDS", default=10.0)
# One render may run this long; past it the job is timed out (a retry, or STALE once spent). Kept
# below the django-q2 task timeout so a long render is never killed from outside.
RENDER_DEADLINE_SECONDS: int = env.int("RENDER_DEADLINE_SECONDS", default=600)
# A job released (backend unavailable, farm saturated) this many times in a row waits before it
# may be claimed again (base delay, doubling, capped), so it cannot keep the queue's head busy.
RENDER_RELEASE_HOLD_AFTER: int = env.int("RENDER_RELEASE_HOLD_AFTER", default=3)
RENDER_RELEASE_HOLD_SECONDS: int = env.int("RENDER_RELEASE_HOLD_SECONDS", default=15)
RENDER_RELEASE_HOLD_MAX_SECONDS: int = env.int("RENDER_RELEASE_HOLD_MAX_SECONDS", default=300)
# Temporary render files left by killed workers are deleted once this old.
RENDER_TEMP_MAX_AGE_SECONDS: int = env.int("RENDER_TEMP_MAX_AGE_SECONDS", default=3600)
if RENDER_HEARTBEAT_SECONDS * 3 > RENDER_ZOMBIE_TIMEOUT_SECONDS:
    raise ImproperlyConfigured(
        "RENDER_ZOMBIE_TIMEOUT_SECONDS must be at least 3 heartbeats (RENDER_HEARTBEAT_SECONDS)"
    )

# --------------------------------------------------------------------------------------------------
# Monitoring thresholds (SPEC §4)
# --------------------------------------------------------------------------------------------------
MONITOR_DELAYED_PENDING_MINUTES: int = env.int("MONITOR_DELAYED_PENDING_MINUTES", default=30)
MONITOR_ORPHAN_GRACE_SECONDS: int = env.int("MONITOR_ORPHAN_GRACE_SECONDS", default=120)
MONITOR_ORPHAN_AUTO_CREATE: bool = env.bool("MONITOR_ORPHAN_AUTO_CREATE", default=True)
MONITOR_ERROR_RATE_THRESHOLD: float = env.float("MONITOR_ERROR_RATE_THRESHOLD", default=0.10)
MONITOR_ERROR_RATE_MIN_SAMPLE: int = env.int("MONITOR_ERROR_RATE_MIN_SAMPLE", default=20)
MONITOR_THROUGHPUT_DROP_RATIO: float = env.float("MONITOR_THROUGHPUT_DROP_RATIO", default=0.5)
MONITOR_THROUGHPUT_MIN_VOLUME: int = env.int("MONITOR_THROUGHPUT_MIN_VOLUME", default=20)
MONITOR_PRODUCER_STALE_SECONDS: int = env.int("MONITOR_PRODUCER_STALE_SECONDS", default=300)
# Per-minute rollup of the day-long metrics (monitoring/README.md): a minute is rolled up once it
# ended this long ago (longer than any transaction that stamps a time, and than the clock skew
# between hosts); minute rows are kept this long (the longest read goes back 25 h).
MONITOR_ROLLUP_SETTLE_SECONDS: int = env.int("MONITOR_ROLLUP_SETTLE_SECONDS", default=120)
MONITOR_ROLLUP_RETENTION_HOURS: int = env.int("MONITOR_ROLLUP_RETENTION_HOURS", default=48)
if MONITOR_ROLLUP_RETENTION_HOURS < 26:
    raise ImproperlyConfigured("MONITOR_ROLLUP_RETENTION_HOURS must be at least 26")
# /metrics takes a `metrics` API key or HTTP Basic; true: anyone who can reach it may scrape.
METRICS_PUBLIC: bool = env.bool("METRICS_PUBLIC", default=False)
SLACK_WEBHOOK_URL: str = env.str("SLACK_WEBHOOK_URL", default="")
ALERT_EMAILS: list[str] = env.list("ALERT_EMAILS", default=[])
# Slack/e-mail: at most one notification per event code within this many seconds.
MONITOR_NOTIFY_INTERVAL_SECONDS: int = env.int("MONITOR_NOTIFY_INTERVAL_SECONDS", default=300)
MONITOR_NOTIFY_TIMEOUT_SECONDS: float = env.float("MONITOR_NOTIFY_TIMEOUT_SECONDS", default=5.0)

# --------------------------------------------------------------------------------------------------
# Queue (django-q2) and live events (Channels)
# --------------------------------------------------------------------------------------------------
Q_WORKERS: int = env.int("Q_WORKERS", default=2)
Q_TIMEOUT_SECONDS: int = env.int("Q_TIMEOUT_SECONDS", default=900)
if Q_TIMEOUT_SECONDS <= RENDER_TASK_BUDGET_SECONDS + RENDER_DEADLINE_SECONDS + 30:
    # A wake-up renders for up to its budget, then finishes the job it holds (up to a deadline):
    # django-q2 must never kill it first (that would spend a retry on a render that was fine).
    raise ImproperlyConfigured(
        "Q_TIMEOUT_SECONDS must exceed RENDER_TASK_BUDGET_SECONDS + RENDER_DEADLINE_SECONDS + 30"
    )
# The render workers are the default cluster ("hub"); the hub's own schedules and background
# tasks run on a cluster/queue of their own (see "Processes" below), so renders never delay them.
Q_RENDER_CLUSTER = "hub"
Q_OPS_CLUSTER = "hub-ops"
Q_CLUSTER: dict = {
    "name": Q_RENDER_CLUSTER,
    "workers": Q_WORKERS,
    "timeout": Q_TIMEOUT_SECONDS,
    "retry": env.int("Q_RETRY_SECONDS", default=1200),
    "max_attempts": 1,
    "catch_up": False,
    "save_limit": 200,
    "ack_failures": True,
    "label": "Task queue",
    # `Q_CLUSTER_NAME=hub-ops` (what `manage.py runworkers ops` sets) selects these overrides.
    "ALT_CLUSTERS": {
        Q_OPS_CLUSTER: {
            "workers": env.int("Q_OPS_WORKERS", default=2),
            "timeout": env.int("Q_OPS_TIMEOUT_SECONDS", default=600),
            "retry": env.int("Q_OPS_RETRY_SECONDS", default=900),
        }
    },
}
CHANNEL_LAYER_PREFIX: str = env.str(
    "CHANNEL_LAYER_PREFIX",
    default=f"hub-db{(urlparse(REDIS_URL).path.strip('/') or '0')}" if REDIS_URL else "hub",
)
if HUB_MODE == "production":
    Q_CLUSTER["redis"] = REDIS_URL
    CHANNEL_LAYERS = {
        "default": {
            # Pub/sub delivers every message of a burst; the list-based layer drops past capacity.
            # Ours subscribes again by itself after a Redis restart (automation_hub/
            # channel_layers.py), so a page that opens its socket meanwhile is not refused.
            "BACKEND": "automation_hub.channel_layers.ResilientPubSubChannelLayer",
            # Pub/sub channels ignore Redis database numbers: hubs (or test runs) sharing one
            # Redis would hear each other's events without a prefix of their own.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_connect_timeout": 2}],
                "prefix": CHANNEL_LAYER_PREFIX,
            },
        }
    }
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = env.float("Q_POLL_SECONDS", default=0.1)
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Live dashboard (automation_hub/live.py): every event is a LiveEvent row whose id is its seq.
# Embedded mode: how often the web process reads new rows for its open sockets.
LIVE_RELAY_POLL_SECONDS: float = env.float("LIVE_RELAY_POLL_SECONDS", default=0.05)
# A page that reconnects gets at most this many missed events; further behind, it reloads.
LIVE_CATCHUP_LIMIT: int = env.int("LIVE_CATCHUP_LIMIT", default=5000)
LIVE_EVENT_RETENTION_HOURS: int = env.int("LIVE_EVENT_RETENTION_HOURS", default=24)
# PostgreSQL hands out ids in INSERT order, not commit order: an event can become visible after a
# later one was sent. Every open socket re-reads the ids of the last LIVE_LOOKBACK_SECONDS every
# LIVE_RECONCILE_SECONDS and sends what it has not sent (pages drop seqs they already have).
LIVE_LOOKBACK_SECONDS: float = env.float("LIVE_LOOKBACK_SECONDS", default=60.0)
LIVE_RECONCILE_SECONDS: float = env.float("LIVE_RECONCILE_SECONDS", default=5.0)

# --------------------------------------------------------------------------------------------------
# Processes (`manage.py runhub`) and retention (`manage.py prune`)
# --------------------------------------------------------------------------------------------------
# runhub restarts a child that exited after RUNHUB_BACKOFF_SECONDS, doubling up to
# RUNHUB_BACKOFF_MAX_SECONDS; a child that ran RUNHUB_STABLE_SECONDS counts as healthy again. It
# gives up (stops the hub, exit 1) after RUNHUB_MAX_FAST_CRASHES crashes in a row that each came
# within RUNHUB_STABLE_SECONDS of their start.
RUNHUB_BACKOFF_SECONDS: float = env.float("RUNHUB_BACKOFF_SECONDS", default=1.0)
RUNHUB_BACKOFF_MAX_SECONDS: float = env.float("RUNHUB_BACKOFF_MAX_SECONDS", default=30.0)
RUNHUB_STABLE_SECONDS: float = env.float("RUNHUB_STABLE_SECONDS", default=60.0)
RUNHUB_MAX_FAST_CRASHES: int = env.int("RUNHUB_MAX_FAST_CRASHES", default=5)
# SIGTERM: everything stopped within this (in-flight renders released, not lost).
RUNHUB_STOP_SECONDS: float = env.float("RUNHUB_STOP_SECONDS", default=8.0)
# A render worker cluster asked to stop lets running renders finish for this long, then releases
# them (back to PENDING, no retry spent).
RENDER_STOP_GRACE_SECONDS: float = env.float("RENDER_STOP_GRACE_SECONDS", default=5.0)
# Each supervised process is heart-beaten into HubProcess this often; readiness and the dashboard
# badge call a process down when its beat is older than HUB_PROCESS_STALE_SECONDS.
HUB_HEARTBEAT_SECONDS: float = env.float("HUB_HEARTBEAT_SECONDS", default=2.0)
HUB_PROCESS_STALE_SECONDS: float = env.float("HUB_PROCESS_STALE_SECONDS", default=10.0)

# Retention: what `manage.py prune` (and its hourly schedule) deletes. Hands, instructions, outputs
# and audit entries are the broadcast's record and are never pruned.
RETENTION_RESOLVED_EVENT_DAYS: int = env.int("RETENTION_RESOLVED_EVENT_DAYS", default=7)
RETENTION_SYNC_RUN_DAYS: int = env.int("RETENTION_SYNC_RUN_DAYS", default=7)
# django-q2 task results, failures included (successes are also capped by save_limit).
RETENTION_TASK_RESULT_DAYS: int = env.int("RETENTION_TASK_RESULT_DAYS", default=2)
# ORM-broker messages nobody took (embedded mode): only wake-ups; the sweep re-sends them.
RETENTION_BROKER_MESSAGE_HOURS: int = env.int("RETENTION_BROKER_MESSAGE_HOURS", default=24)
PRUNE_EVERY_MINUTES: int = env.int("PRUNE_EVERY_MINUTES", default=60)
# Rows per DELETE statement: short transactions while the hub is busy.
PRUNE_BATCH_SIZE: int = env.int("PRUNE_BATCH_SIZE", default=5000)
for _name in (
    "RETENTION_RESOLVED_EVENT_DAYS",
    "RETENTION_SYNC_RUN_DAYS",
    "RETENTION_TASK_RESULT_DAYS",
    "RETENTION_BROKER_MESSAGE_HOURS",
    "PRUNE_EVERY_MINUTES",
    "PRUNE_BATCH_SIZE",
):
    if vars()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1")

# An open socket re-reads its session this often and closes (4401) once it expired, or its user
# was deactivated or changed password; signing out closes it at once.
LIVE_SESSION_CHECK_SECONDS: float = env.float("LIVE_SESSION_CHECK_SECONDS", default=15.0)

# Failed password attempts (page login, /admin/login/, HTTP Basic: one rule) per (client address,
# user name) and per address within the window; past either → 429 until the window ends.
LOGIN_FAILURES_PER_USER: int = env.int("LOGIN_FAILURES_PER_USER", default=5)
LOGIN_FAILURES_PER_ADDRESS: int = env.int("LOGIN_FAILURES_PER_ADDRESS", default=30)
LOGIN_FAILURE_WINDOW_SECONDS: int = env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=900)
if HUB_MODE == "production":
    # Several web processes: the failure counters must be shared. While Redis is away the
    # cache fails open (throttle windows and counters start again; automation_hub/cache.py), and
    # short timeouts keep a request from waiting on it.
    CACHES = {
        "default": {
            "BACKEND": "automation_hub.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "hub",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        }
    }
else:
    # Embedded mode serves the web from one process (`runhub`): its memory is the shared place.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --------------------------------------------------------------------------------------------------
# E-mail (alerts) and logging
# --------------------------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="hub@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django_q": {"level": env.str("Q_LOG_LEVEL", default="WARNING")}},
}
