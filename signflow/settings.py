"""SignFlow settings, read once from the environment (see DESIGN.md, Configuration).

The defaults give a working single-machine setup: SQLite under var/, Celery tasks run eagerly
in-process when REDIS_URL is unset, email and SMS land in the outbox, the built-in TSA stamps
the seals and the seal certificate is generated on first use.
"""

from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from signflow.cache import caches_for
from signflow.env import env_bool, env_int, env_list, env_str
from signflow.logging_setup import configure_structlog, logging_config
from signflow.storage import default_storage_setting

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("SIGNFLOW_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable to a long random "
            "string (for example: python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            "or set DEBUG=1 for local development."
        )
    SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SIGNFLOW_BASE_URL = env_str("SIGNFLOW_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    # Django's admin with SignFlow's site: our login form (throttled, two-step) and staff must
    # have confirmed a second factor (signflow.accounts.SignFlowAdminSite).
    "signflow.apps.SignFlowAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "anymail",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "django_structlog",
    "signflow",
    "crm",
    "documents",
    "verification",
    "signing",
    "webhooks",
    "bulk",
    # The REST API (/api/v1/, django-ninja: its Swagger UI assets are served from static).
    "ninja",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # Binds a request id (and user id, client IP) to every log line of the request and to the
    # Celery tasks it queues (django-structlog); the answer carries it as X-Request-ID.
    "django_structlog.middlewares.RequestMiddleware",
    "signflow.request_id.request_id_header",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # The file storage (disk or bucket) failing under a page: a 503 that says so (signflow/storage.py).
    "signflow.storage.StorageUnavailableMiddleware",
    # Last: turns a login refused by the throttle into the "too many attempts" page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "signflow.urls"
WSGI_APPLICATION = "signflow.wsgi.application"

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
                "signflow.context_processors.signflow",
            ],
        },
    }
]

_DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'signflow.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(
        _DATABASE_URL,
        # A PostgreSQL connection costs ~5 ms and a server process: keep it for 60 s across
        # requests (65 -> 154 rps on the signer page), checked before reuse so a restarted
        # server costs one failed check, not a failed request. SQLite opens a file: no gain.
        conn_max_age=env_int(
            "DATABASE_CONN_MAX_AGE", 0 if _DATABASE_URL.startswith("sqlite") else 60
        ),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # SQLite under concurrent requests: WAL lets readers go on while one request writes, and
    # IMMEDIATE takes the write lock when a transaction begins, waiting up to `timeout` seconds
    # for it. A deferred transaction that reads and then writes cannot wait: SQLite answers
    # "database is locked" at once rather than deadlock.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # django-axes first: a locked-out client IP + username is refused before any password check.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "signing:board"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = env_str("LANGUAGE_CODE", "fr")
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Europe/Paris")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# Files: under MEDIA_ROOT (SIGNFLOW_STORAGE=filesystem, the default) or in a private S3 bucket
# (SIGNFLOW_STORAGE=s3 and the AWS_* variables: signflow/storage.py, README "Storage").
SIGNFLOW_STORAGE = env_str("SIGNFLOW_STORAGE", "filesystem")
STORAGES = {
    "default": default_storage_setting(),
    # collectstatic writes a .br (the `brotli` package) and a .gz beside each file, and
    # WhiteNoise serves the smallest one the browser accepts: the signer page's CSS, JS and
    # font stay under 60 KB transferred (bench/bench_weight.py). Same backend with DEBUG on, so
    # the image's collectstatic (run with DEBUG=1) compresses too; runserver serves the sources.
    # Not the manifest variant: it needs collectstatic before any page renders, tests included.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Celery: without REDIS_URL every task runs eagerly in the web process.
REDIS_URL = env_str("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
# A task is acknowledged when it has finished, not when a worker took it: a worker that dies
# (SIGKILL, OOM, a lost node) gives its task back. A child process killed under a live worker
# is requeued at once (reject_on_worker_lost); a whole worker lost comes back after Redis's
# visibility timeout. Every task is idempotent (claims, seal lock), so a second run is safe.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Queues and routes (signflow/celery.py explains each queue). A worker without -Q consumes
# them all; production runs one worker on `messages` alone (see README, Queues and workers).
CELERY_TASK_QUEUES = {
    name: {"exchange": name, "routing_key": name}
    for name in ("messages", "sealing", "previews", "webhooks", "bulk")
}
CELERY_TASK_DEFAULT_QUEUE = "bulk"  # a task nobody routed never lands ahead of a code
CELERY_TASK_ROUTES = [
    # Deliveries queued by a batch task (reminders, expiry notices) go to `bulk`.
    "signflow.celery.route_batch_deliveries",
    {
        "signing.tasks.deliver_message": {"queue": "messages"},
        "signing.tasks.seal_envelope": {"queue": "sealing"},
        "signing.tasks.sweep_sealing": {"queue": "sealing"},
        "verification.tasks.add_archive_timestamps": {"queue": "sealing"},
        "documents.tasks.render_previews": {"queue": "previews"},
        "signing.tasks.sweep_outbox": {"queue": "bulk"},
        "signing.tasks.send_reminders": {"queue": "bulk"},
        "signing.tasks.expire_envelopes": {"queue": "bulk"},
        # The webhooks and bulk apps: every task of theirs on its own queue.
        "webhooks.tasks.*": {"queue": "webhooks"},
        "bulk.tasks.*": {"queue": "bulk"},
        "api.tasks.*": {"queue": "bulk"},
    },
]
# Time limits per task (seconds; soft raises SoftTimeLimitExceeded in the task, which records
# the failure like any other, hard kills the child). Enforced by the prefork pool (not --pool
# solo). A seal holds its TSA call (TSA_TIMEOUT, 10 s) and a 200-page flatten; a delivery the
# slowest provider (EMAIL_TIMEOUT, 30 s) with the sealed PDF attached; the sweeps stop where
# they are and the next run goes on.
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
CELERY_TASK_ANNOTATIONS = {
    "signing.tasks.deliver_message": {"soft_time_limit": 90, "time_limit": 120},
    "signing.tasks.seal_envelope": {"soft_time_limit": 300, "time_limit": 360},
    "documents.tasks.render_previews": {"soft_time_limit": 600, "time_limit": 660},
    "signing.tasks.sweep_sealing": {"soft_time_limit": 1500, "time_limit": 1800},
    "signing.tasks.sweep_outbox": {"soft_time_limit": 1500, "time_limit": 1800},
    "signing.tasks.send_reminders": {"soft_time_limit": 600, "time_limit": 660},
    "signing.tasks.expire_envelopes": {"soft_time_limit": 600, "time_limit": 660},
    "verification.tasks.add_archive_timestamps": {"soft_time_limit": 3300, "time_limit": 3600},
}
# Redis redelivers a task not acknowledged within the visibility timeout, as if its worker had
# died. It must exceed the longest hard limit (3600 s) plus the time a task waits reserved
# behind the one its process runs (prefetch 1): twice the longest limit. A lost worker's tasks
# come back after it; the outbox and sealing sweeps usually get there first.
# A broker outage must not hang a request: publishing gives up fast, the sweep sends later.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "visibility_timeout": 7200,
}
CELERY_TASK_PUBLISH_RETRY = False
# Workers log through Django's LOGGING (JSON with the request id), not Celery's handler.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    "sweep-outbox": {"task": "signing.tasks.sweep_outbox", "schedule": 60.0},
    "expire-envelopes": {"task": "signing.tasks.expire_envelopes", "schedule": 300.0},
    "send-reminders": {"task": "signing.tasks.send_reminders", "schedule": 900.0},
    # Every minute: it only picks envelopes whose next sealing attempt is due (backoff).
    "sweep-sealing": {"task": "signing.tasks.sweep_sealing", "schedule": 60.0},
    # The REST API forgets Idempotency-Keys after a day (api.tasks).
    "purge-idempotency-keys": {"task": "api.tasks.purge_idempotent_requests", "schedule": 3600.0},
    # Outgoing webhooks: retries when due (backoff) and deliveries the broker lost.
    "sweep-webhooks": {"task": "webhooks.tasks.sweep_webhooks", "schedule": 60.0},
    # PAdES B-LTA: a new document timestamp before the newest one's certificate expires.
    "archive-timestamps": {
        "task": "verification.tasks.add_archive_timestamps",
        "schedule": 86400.0,
    },
}

# The cache only speeds things up and rate-limits: with Redis unreachable it answers "miss"
# after a short timeout and logs a warning, so pages keep working (signflow/cache.py).
CACHES = {"default": caches_for(REDIS_URL)}

# Email: Django's mail API; any django-anymail backend works (see README).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
# Seconds before an SMTP server that does not answer counts as a failed attempt (retried with
# backoff); anymail's HTTP providers use ANYMAIL's REQUESTS_TIMEOUT (30 s by default).
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "SignFlow <no-reply@signflow.local>")
ANYMAIL = {
    "MAILGUN_API_KEY": env_str("MAILGUN_API_KEY"),
    "MAILGUN_SENDER_DOMAIN": env_str("MAILGUN_SENDER_DOMAIN"),
    "POSTMARK_SERVER_TOKEN": env_str("POSTMARK_SERVER_TOKEN"),
    "SENDGRID_API_KEY": env_str("SENDGRID_API_KEY"),
    "WEBHOOK_SECRET": env_str("ANYMAIL_WEBHOOK_SECRET"),
}

# SMS: Twilio when configured, otherwise the outbox only.
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN")
TWILIO_FROM_NUMBER = env_str("TWILIO_FROM_NUMBER")
# The twilio library waits forever by default: a Twilio that never answers would hold a worker.
TWILIO_TIMEOUT = env_int("TWILIO_TIMEOUT", 15)
SMS_BACKEND = env_str(
    "SMS_BACKEND",
    "signing.sms.TwilioSMSBackend" if TWILIO_ACCOUNT_SID else "signing.sms.OutboxSMSBackend",
)

# The development outbox page lists every message with its links (never on in production).
SIGNFLOW_DEV_OUTBOX = env_bool("SIGNFLOW_DEV_OUTBOX", DEBUG)
if SIGNFLOW_DEV_OUTBOX and not DEBUG:
    raise ImproperlyConfigured(
        "SIGNFLOW_DEV_OUTBOX is on while DEBUG is off: /dev/outbox/ would show every signing "
        "link and code to anyone. Unset SIGNFLOW_DEV_OUTBOX (it follows DEBUG by default), or "
        "set DEBUG=1 for local development."
    )

# Sealing: built-in TSA and self-generated certificates unless configured.
TSA_URL = env_str("TSA_URL")
SEAL_PKCS12_PATH = env_str("SEAL_PKCS12_PATH")
SEAL_PKCS12_PASSWORD = env_str("SEAL_PKCS12_PASSWORD")
# The seal, TSA and CA keys: on the local disk of each node, outside MEDIA_ROOT and never in a
# bucket (a system check warns when the folder is inside MEDIA_ROOT). Keys an older install
# kept in MEDIA_ROOT/keys (SIGNFLOW_LEGACY_KEYS_DIR) are moved here on first use.
SIGNFLOW_KEYS_DIR = Path(env_str("SIGNFLOW_KEYS_DIR", str(VAR_DIR / "keys")))
SIGNFLOW_LEGACY_KEYS_DIR = MEDIA_ROOT / "keys"
# The seal key in a PKCS#11 token (an HSM) instead of SIGNFLOW_KEYS_DIR: the module (.so), the
# token's label, the labels of the private key and of its certificate (default: the key's) and
# the user PIN. The root CA and the built-in TSA keep their keys in SIGNFLOW_KEYS_DIR.
SIGNFLOW_SEAL_PKCS11_MODULE = env_str("SIGNFLOW_SEAL_PKCS11_MODULE")
SIGNFLOW_SEAL_PKCS11_TOKEN_LABEL = env_str("SIGNFLOW_SEAL_PKCS11_TOKEN_LABEL")
SIGNFLOW_SEAL_PKCS11_KEY_LABEL = env_str("SIGNFLOW_SEAL_PKCS11_KEY_LABEL", "signflow-seal")
SIGNFLOW_SEAL_PKCS11_CERT_LABEL = env_str("SIGNFLOW_SEAL_PKCS11_CERT_LABEL")
SIGNFLOW_SEAL_PKCS11_PIN = env_str("SIGNFLOW_SEAL_PKCS11_PIN")
# The built-in TSA's own key folder (default: tsa/ inside SIGNFLOW_KEYS_DIR), its RFC 3161
# policy OID (default: ours, under the 2.25 UUID arc), and how many days before the newest
# timestamp's certificate expires the archive task adds a new document timestamp.
SIGNFLOW_TSA_KEYS_DIR = env_str("SIGNFLOW_TSA_KEYS_DIR")
SIGNFLOW_TSA_POLICY_OID = env_str("SIGNFLOW_TSA_POLICY_OID")
SIGNFLOW_ARCHIVE_RENEW_DAYS = env_int("SIGNFLOW_ARCHIVE_RENEW_DAYS", 365)

# Signing rules.
SIGNFLOW_LINK_DEFAULT_DAYS = env_int("SIGNFLOW_LINK_DEFAULT_DAYS", 30)
SIGNFLOW_OTP_TTL_SECONDS = env_int("SIGNFLOW_OTP_TTL_SECONDS", 300)
SIGNFLOW_OTP_MAX_ATTEMPTS = env_int("SIGNFLOW_OTP_MAX_ATTEMPTS", 5)
SIGNFLOW_OTP_RESEND_COOLDOWN_SECONDS = env_int("SIGNFLOW_OTP_RESEND_COOLDOWN_SECONDS", 60)
SIGNFLOW_OTP_MAX_CODES_PER_DAY = env_int("SIGNFLOW_OTP_MAX_CODES_PER_DAY", 10)
SIGNFLOW_DOWNLOAD_RETENTION_DAYS = env_int("SIGNFLOW_DOWNLOAD_RETENTION_DAYS", 14)
SIGNFLOW_UPLOAD_MAX_BYTES = env_int("SIGNFLOW_UPLOAD_MAX_BYTES", 20 * 1024 * 1024)
SIGNFLOW_UPLOAD_MAX_PAGES = env_int("SIGNFLOW_UPLOAD_MAX_PAGES", 200)
# Pixels an uploaded image (or a page image inside a PDF) may have before it is decoded
# (Pillow's own default: larger ones are refused as decompression bombs).
SIGNFLOW_UPLOAD_MAX_PIXELS = env_int("SIGNFLOW_UPLOAD_MAX_PIXELS", 89_478_485)
# A drawn, photographed or scanned signature or stamp image.
SIGNFLOW_IMAGE_MAX_BYTES = env_int("SIGNFLOW_IMAGE_MAX_BYTES", 10 * 1024 * 1024)
SIGNFLOW_MESSAGE_MAX_ATTEMPTS = env_int("SIGNFLOW_MESSAGE_MAX_ATTEMPTS", 8)
SIGNFLOW_PREVIEW_INLINE_PAGES = env_int("SIGNFLOW_PREVIEW_INLINE_PAGES", 10)
SIGNFLOW_SOFFICE_TIMEOUT = env_int("SIGNFLOW_SOFFICE_TIMEOUT", 60)
# Parsing a stranger's PDF (text, renders, checks) runs in a child process with these limits
# (signflow.pdfguard): address space, CPU and wall-clock time, decompressed bytes per stream.
SIGNFLOW_PDF_PARSE_MAX_MB = env_int("SIGNFLOW_PDF_PARSE_MAX_MB", 512)
SIGNFLOW_PDF_PARSE_SECONDS = env_int("SIGNFLOW_PDF_PARSE_SECONDS", 15)
SIGNFLOW_PDF_STREAM_MAX_MB = env_int("SIGNFLOW_PDF_STREAM_MAX_MB", 128)
SIGNFLOW_VERIFY_RATE_PER_MINUTE = env_int("SIGNFLOW_VERIFY_RATE_PER_MINUTE", 30)
# REST API: requests per API key and minute (api.auth), then 429 with Retry-After.
SIGNFLOW_API_RATE_PER_MINUTE = env_int("SIGNFLOW_API_RATE_PER_MINUTE", 120)
SIGNFLOW_TRUST_ROOTS_PATH = env_str("SIGNFLOW_TRUST_ROOTS_PATH")
SIGNFLOW_LOGIN_MAX_FAILURES = env_int("SIGNFLOW_LOGIN_MAX_FAILURES", 5)
SIGNFLOW_LOGIN_LOCK_SECONDS = env_int("SIGNFLOW_LOGIN_LOCK_SECONDS", 900)
# One login throttle (django-axes, kept in the database so it needs no Redis) for every form
# that checks a password or a two-step code: /login/, its code step and /admin/login/. Counted
# per client IP and username; the callables read the SIGNFLOW_LOGIN_* settings above.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = "signflow.accounts.login_failure_limit"
AXES_COOLOFF_TIME = "signflow.accounts.login_lock_time"
AXES_LOCKOUT_PARAMETERS = [["ip_address", "username"]]
AXES_USERNAME_CALLABLE = "signflow.accounts.login_username"
AXES_CLIENT_IP_CALLABLE = "signflow.net.client_ip"
AXES_LOCKOUT_CALLABLE = "signflow.accounts.lockout_response"
AXES_RESET_ON_SUCCESS = True
# A refused attempt during the lock does not extend it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_VERBOSE = False
# Two-step login (django-otp, TOTP apps): optional for employees, required for staff.
OTP_TOTP_ISSUER = "SignFlow"
# The admin's device pages never show a device's secret key.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# How many proxies of ours append to X-Forwarded-For (0: use REMOTE_ADDR, the client IP).
SIGNFLOW_TRUSTED_PROXIES = env_int("SIGNFLOW_TRUSTED_PROXIES", 0)
# Outgoing webhooks are refused when their host resolves to a private, loopback, link-local or
# reserved address (SSRF), except for these host names, addresses or networks (CIDR).
SIGNFLOW_WEBHOOK_ALLOWED_HOSTS = env_list("SIGNFLOW_WEBHOOK_ALLOWED_HOSTS", [])
TSA_TIMEOUT = env_int("TSA_TIMEOUT", 10)

# Served over HTTPS (the base URL says so) and not in development: cookies only over HTTPS,
# plain HTTP redirected, and browsers told to never use plain HTTP again (HSTS).
_HTTPS = not DEBUG and SIGNFLOW_BASE_URL.startswith("https")
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", _HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _HTTPS)
# Health probes come from inside the network, over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if _HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Signer links carry their token in the path: no page sends its address to another site.
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): scripts and styles only from our own static files, no
# inline script, style or event handler, no eval (htmx's hx-on and trigger filters are not
# used). Images may be data: or blob: URIs (page previews, drawn signatures, upload previews).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [NONE],
        "object-src": [NONE],
    },
}
SESSION_COOKIE_HTTPONLY = True

# Logs: one JSON object per line on stderr (SIGNFLOW_LOG_FORMAT=console for people), with the
# request id that also follows the request into its Celery tasks; link tokens, codes and
# secret-named values are masked in every line (signflow/logging_setup.py).
SIGNFLOW_LOG_FORMAT = env_str("SIGNFLOW_LOG_FORMAT", "json")
if SIGNFLOW_LOG_FORMAT not in {"json", "console"}:
    raise ImproperlyConfigured("SIGNFLOW_LOG_FORMAT must be json or console.")
configure_structlog()
LOGGING = logging_config(level=env_str("LOG_LEVEL", "INFO"), fmt=SIGNFLOW_LOG_FORMAT)
DJANGO_STRUCTLOG_CELERY_ENABLED = True
# Prometheus metrics at /metrics (signflow/metrics.py): off (404) unless one of these is set.
# Allowed client addresses or networks (as signflow.net.client_ip sees them), and/or a bearer
# token the scraper sends (`Authorization: Bearer <token>`); anyone else gets 403.
SIGNFLOW_METRICS_ALLOWED_IPS = env_list("SIGNFLOW_METRICS_ALLOWED_IPS", [])
SIGNFLOW_METRICS_TOKEN = env_str("SIGNFLOW_METRICS_TOKEN")
