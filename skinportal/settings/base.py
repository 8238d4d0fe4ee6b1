"""Settings shared by every environment.

Every value that differs between deployments is read from the environment
(see ``.env.example``). ``local.py`` is the embedded default, ``production.py`` the
deployment profile, ``test.py`` the test suite's.
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A .env file in the project root is read only on request (DJANGO_READ_DOT_ENV_FILE=true), so a
# copy of production values can never leak into the local or test profiles unnoticed.
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "storages",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "drf_standardized_errors",
    "knox",
    "corsheaders",
    "simple_history",
    # Security: login lockout (django-axes) and the Content-Security-Policy header (django-csp).
    "axes",
    "csp",
    # Shared infrastructure (permissions, admin base classes, files, change history, tasks); imports no app below.
    "core",
    "accounts",
    "cases",
    "inference",
    "tracking",
    "reviews",
    "notifications",
    "audit",
    "interop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "skinportal.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Pages and API answers hold patient data: "Cache-Control: no-store" unless a view says otherwise.
    "skinportal.middleware.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Who made a change, for the change history (django-simple-history).
    "simple_history.middleware.HistoryRequestMiddleware",
    # Every page and every file needs login unless a view opts out explicitly; API views
    # authenticate (token or session) in DRF and answer 401 instead of redirecting.
    "skinportal.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # An id past 64 bits in a URL is a 404 before any view or query sees it.
    "skinportal.middleware.OutOfRangeIdMiddleware",
    # Image work refused because the process is busy decoding others: 503 with Retry-After.
    "skinportal.middleware.ImageWorkBusyMiddleware",
    # Records every view of a patient record, image or heatmap (UI, API, files): audit.AccessLog.
    "audit.middleware.AccessLogMiddleware",
    # The embedded default (tasks in-process, no beat): starts the stalled-prediction sweep thread.
    "inference.sweep.InProcessSweepMiddleware",
    # A login refused for too many failed logins from the client's address: the 429 page.
    "audit.middleware.LoginAddressLimitMiddleware",
    # Last, as django-axes asks: turns a locked-out login attempt into the lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "skinportal.urls"
WSGI_APPLICATION = "skinportal.wsgi.application"

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
                "notifications.context_processors.unread_count",
                "core.context_processors.user_can",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default under concurrency (threaded runserver, in-process tasks): a write
    # transaction takes SQLite's write lock when it begins (IMMEDIATE), so two cannot deadlock by
    # upgrading read locks, and waits up to 20 s for it (timeout, busy_timeout) instead of failing
    # with "database is locked"; WAL lets reads go on while one writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=20000; PRAGMA synchronous=NORMAL",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "cases:dashboard"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out username+address before any password is checked
# (web login, admin login, and the API's password-for-token exchange all call authenticate()).
# Before it, the limit per client address across usernames (audit.backends: password spraying).
AUTHENTICATION_BACKENDS = [
    "audit.backends.LoginAddressLimitBackend",
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env("DJANGO_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# Uploaded images are private: they live outside any public URL and are served only by
# views that apply the access rule (see cases.views.image_file). There is no MEDIA_URL route.
MEDIA_ROOT = Path(env("SKINPORTAL_MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))
MEDIA_URL = "/media-not-served/"

STORAGE_BACKEND = env("SKINPORTAL_STORAGE", default="local")  # "local" or "s3"
if STORAGE_BACKEND == "s3":
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env("AWS_S3_ENDPOINT_URL", default=None),
            "region_name": env("AWS_S3_REGION_NAME", default=None),
            "access_key": env("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env("AWS_SECRET_ACCESS_KEY", default=None),
            "default_acl": "private",
            "querystring_auth": True,
            # Signed URLs are issued only after the access check and expire quickly.
            "querystring_expire": env.int("AWS_QUERYSTRING_EXPIRE", default=60),
            "file_overwrite": False,
        },
    }
elif STORAGE_BACKEND == "local":
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": MEDIA_URL},
    }
else:
    raise environ.ImproperlyConfigured(f"SKINPORTAL_STORAGE must be 'local' or 's3', not {STORAGE_BACKEND!r}")

STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Uploads (cases.imaging): per-file byte limit and decoded pixel limit (decompression bombs).
SKINPORTAL_MAX_UPLOAD_BYTES = env.int("SKINPORTAL_MAX_UPLOAD_BYTES", default=25 * 1024 * 1024)
SKINPORTAL_MAX_IMAGE_PIXELS = env.int("SKINPORTAL_MAX_IMAGE_PIXELS", default=50_000_000)
# Memory per upload and heatmap request (skinml.decoding): a stored image has at most
# SKINPORTAL_MAX_STORED_PIXELS (larger ones are reduced; a JPEG while it is decoded); a PNG or HEIC,
# which decode at full size, may take at most SKINPORTAL_MAX_DECODE_BYTES to decode; a heatmap is
# rendered at most SKINPORTAL_MAX_HEATMAP_PIXELS large. At most SKINPORTAL_IMAGE_WORK_SLOTS uploads
# or heatmap renders decode at once in a process (others wait up to SKINPORTAL_IMAGE_WORK_WAIT
# seconds, then get 503). bench/memory.py measures the result.
SKINPORTAL_MAX_STORED_PIXELS = env.int("SKINPORTAL_MAX_STORED_PIXELS", default=12_000_000)
SKINPORTAL_MAX_DECODE_BYTES = env.int("SKINPORTAL_MAX_DECODE_BYTES", default=200 * 1024 * 1024)
SKINPORTAL_MAX_HEATMAP_PIXELS = env.int("SKINPORTAL_MAX_HEATMAP_PIXELS", default=12_000_000)
SKINPORTAL_IMAGE_WORK_SLOTS = env.int("SKINPORTAL_IMAGE_WORK_SLOTS", default=2)
SKINPORTAL_IMAGE_WORK_WAIT = env.float("SKINPORTAL_IMAGE_WORK_WAIT", default=20.0)
# Rendered heatmaps (another class or opacity than the stored overlay) are cached, and each user
# may render at most SKINPORTAL_HEATMAP_RENDERS_PER_MINUTE (cache hits and the stored overlay are free).
SKINPORTAL_HEATMAP_RENDERS_PER_MINUTE = env.int("SKINPORTAL_HEATMAP_RENDERS_PER_MINUTE", default=30)
SKINPORTAL_MAX_FILES_PER_UPLOAD = env.int("SKINPORTAL_MAX_FILES_PER_UPLOAD", default=20)

# Lesion tracking: a measured change between two visits of a lesion flags it "changed" when any of
# these is reached (area and diameter growth in %, asymmetry increase on a 0..1 scale, a new
# dermoscopic colour). The clinician's own checklist on the same visits overrides the measurement.
SKINPORTAL_CHANGE_AREA_PERCENT = env.float("SKINPORTAL_CHANGE_AREA_PERCENT", default=20.0)
SKINPORTAL_CHANGE_DIAMETER_PERCENT = env.float("SKINPORTAL_CHANGE_DIAMETER_PERCENT", default=15.0)
SKINPORTAL_CHANGE_ASYMMETRY = env.float("SKINPORTAL_CHANGE_ASYMMETRY", default=0.15)
SKINPORTAL_CHANGE_NEW_COLOURS = env.int("SKINPORTAL_CHANGE_NEW_COLOURS", default=1)
# Django refuses a request with more files than this with a bare 400; above our own limit so
# that the upload form can say "at most N files". Cap the request body at the proxy as well
# (e.g. nginx client_max_body_size), since Django spools file parts to disk before any check.
DATA_UPLOAD_MAX_NUMBER_FILES = SKINPORTAL_MAX_FILES_PER_UPLOAD * 2
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Only the local profile may create the demo users (manage.py seed_demo).
SKINPORTAL_ALLOW_DEMO_USERS = False

# Celery: production uses a real broker; the local profile runs tasks in-process.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# In-process (eager) runs behave like a worker: retries happen, errors end in the database
# (Prediction.status) rather than in the caller's request.
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# When the broker is down an upload must still answer within seconds: its prediction stays
# queued in the database, so publishing gives up after a few short tries.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", default="skinportal")
# A queue per host class (docs/deployment.md): analyses go to SKINPORTAL_INFERENCE_QUEUE (the
# default queue unless set), so that inference hosts can run `celery worker -Q <that queue>` and
# other hosts the default queue's housekeeping (the stalled-prediction sweep).
SKINPORTAL_INFERENCE_QUEUE = env("SKINPORTAL_INFERENCE_QUEUE", default=CELERY_TASK_DEFAULT_QUEUE)
CELERY_TASK_ROUTES = {"inference.tasks.run_prediction": {"queue": SKINPORTAL_INFERENCE_QUEUE}}
# Redis: a task taken by a worker that died unacknowledged goes back to the queue after
# visibility_timeout seconds (keep it above the task's hard time limit, 90 s); workers look for
# such tasks every unacked_restore_interval seconds.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=300),
    "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=30),
    "unacked_restore_throttle": 1,
    # Do not let an unreachable Redis hold an upload's request: connect within 2 s.
    "socket_connect_timeout": 2,
    "socket_timeout": 10,
}

# Caches: DRF's throttles count requests here, so every web process must share it in production
# (e.g. CACHE_URL=redis://127.0.0.1:6379/1); the default is per process.
CACHES = {
    "default": env.cache_url("CACHE_URL", default="locmemcache://"),
    # Rendered heatmap JPEGs (inference.services.heatmap_render); a few per process by default, or
    # shared (HEATMAP_CACHE_URL=redis://...) so every web process serves the others' renders.
    "heatmaps": env.cache_url("HEATMAP_CACHE_URL", default="locmemcache://heatmaps"),
}
if CACHES["heatmaps"]["BACKEND"].endswith("LocMemCache"):
    CACHES["heatmaps"].setdefault("OPTIONS", {})["MAX_ENTRIES"] = 24
CACHES["heatmaps"]["TIMEOUT"] = 3600

# REST API (/api/v1/): tokens (hashed, django-rest-knox) or the browser session; one error shape
# (drf-standardized-errors); OpenAPI schema by drf-spectacular.
REST_FRAMEWORK = {
    # Token first: an unauthenticated request gets 401 with "WWW-Authenticate: Token".
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.api.Pagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_standardized_errors.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        # Per user: image uploads; per client address: token requests with a password.
        "uploads": env("API_THROTTLE_UPLOADS", default="600/hour"),
        "token": env("API_THROTTLE_TOKEN", default="10/minute"),
    },
    # Client addresses for throttling: 0 = the socket's address (X-Forwarded-For ignored); behind N
    # trusted proxies set N, so that a client cannot pick its own address with that header.
    "NUM_PROXIES": env.int("API_NUM_PROXIES", default=0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_HANDLER_CLASS": "core.api.ExceptionHandler",
    # Every error of the API has the documented shape, even with DEBUG on.
    "ENABLE_IN_DEBUG_FOR_UNHANDLED_EXCEPTIONS": True,
}
REST_KNOX = {
    "TOKEN_TTL": None,  # each token gets its own lifetime when created (accounts.services)
    "TOKEN_PREFIX": "sp_",
    "AUTH_HEADER_PREFIX": "Token",
}
KNOX_TOKEN_MODEL = "accounts.ApiToken"
# The change history is a record: the admin shows it but offers no "revert".
SIMPLE_HISTORY_REVERT_DISABLED = True
# knox's own migrations would create a table for its AuthToken, which ApiToken replaces.
MIGRATION_MODULES = {"knox": None}
SKINPORTAL_API_TOKEN_MAX_DAYS = env.int("SKINPORTAL_API_TOKEN_MAX_DAYS", default=365)

SPECTACULAR_SETTINGS = {
    "TITLE": "SkinPortal API",
    "DESCRIPTION": (
        "Patients, lesion cases, dermoscopic images and their model predictions (BCC, MEL, NV "
        "probabilities with Grad-CAM heatmaps), case review and the access log. Every object is "
        "visible only to its patient's care team, reviewers and admins; others get 404. "
        "Authenticate with `Authorization: Token <token>` (create tokens on your account's API "
        "tokens page) or a browser session. "
        "Decision support only: not a diagnosis."
    ),
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ValidationErrorEnum": "drf_standardized_errors.openapi_serializers.ValidationErrorEnum.choices",
        "ClientErrorEnum": "drf_standardized_errors.openapi_serializers.ClientErrorEnum.choices",
        "ServerErrorEnum": "drf_standardized_errors.openapi_serializers.ServerErrorEnum.choices",
        "ErrorCode401Enum": "drf_standardized_errors.openapi_serializers.ErrorCode401Enum.choices",
        "ErrorCode403Enum": "drf_standardized_errors.openapi_serializers.ErrorCode403Enum.choices",
        "ErrorCode404Enum": "drf_standardized_errors.openapi_serializers.ErrorCode404Enum.choices",
        "ErrorCode405Enum": "drf_standardized_errors.openapi_serializers.ErrorCode405Enum.choices",
        "ErrorCode406Enum": "drf_standardized_errors.openapi_serializers.ErrorCode406Enum.choices",
        "ErrorCode415Enum": "drf_standardized_errors.openapi_serializers.ErrorCode415Enum.choices",
        "ErrorCode429Enum": "drf_standardized_errors.openapi_serializers.ErrorCode429Enum.choices",
        "ErrorCode500Enum": "drf_standardized_errors.openapi_serializers.ErrorCode500Enum.choices",
        "SexEnum": "cases.models.Sex.choices",
        "AnatomicSiteEnum": "cases.models.AnatomicSite.choices",
        "LesionStatusEnum": "cases.models.LesionStatus.choices",
        "ModalityEnum": "cases.models.Modality.choices",
        "PredictionStatusEnum": "inference.models.PredictionStatus.choices",
        "RiskLevelEnum": "inference.models.RiskLevel.choices",
        "DiagnosisClassEnum": "inference.models.DiagnosisClass.choices",
        "ReviewDiagnosisEnum": "reviews.models.ReviewDiagnosis.choices",
        "RecommendedActionEnum": "reviews.models.RecommendedAction.choices",
        "HistopathologyDiagnosisEnum": "reviews.models.HistopathologyDiagnosis.choices",
        "AccessLogActionEnum": "audit.models.Action.choices",
        "NotificationKindEnum": "notifications.models.NotificationKind.choices",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_standardized_errors.openapi_hooks.postprocess_schema_enums",
    ],
}

# CORS: closed unless origins are listed (browser apps of integrators), and only for the API.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False
CORS_EXPOSE_HEADERS = ["Location", "Retry-After"]

# E-mail (notifications): EMAIL_URL in django-environ's form, e.g. smtp+tls://user:pass@host:587;
# the default prints e-mails to the console.
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="SkinPortal <skinportal@localhost>")
SKINPORTAL_EMAIL_NOTIFICATIONS = env.bool("SKINPORTAL_EMAIL_NOTIFICATIONS", default=True)
# The site's address, for links in e-mails (no request there to build them from).
SKINPORTAL_SITE_URL = env("SKINPORTAL_SITE_URL", default="http://127.0.0.1:8000")

# Exports (interop): the organisation's DICOM UID root, under which every study, series and image
# UID is derived (stable: the same image always gets the same UIDs); get your own root (an OID
# your organisation holds, or 2.25.<a UUID as an integer>). The default is for development only.
SKINPORTAL_DICOM_UID_ROOT = env("SKINPORTAL_DICOM_UID_ROOT", default="2.25.81087280769675206476252688810821530182")
# The system of the patient identifier (the MRN) in FHIR exports, and the DICOM Issuer of Patient ID.
SKINPORTAL_MRN_SYSTEM = env("SKINPORTAL_MRN_SYSTEM", default="urn:skinportal:mrn")

# Predictions whose task was lost are sent again (inference.tasks.resend_stalled_predictions, run
# every minute by `celery -A skinportal beat`, or `manage.py resend_predictions`): queued for
# longer than this many seconds (the broker was down), or running for longer (the worker died;
# keep it above CELERY_VISIBILITY_TIMEOUT, after which Redis itself re-delivers).
SKINPORTAL_RESEND_QUEUED_AFTER = env.int("SKINPORTAL_RESEND_QUEUED_AFTER", default=300)
SKINPORTAL_RESEND_RUNNING_AFTER = env.int("SKINPORTAL_RESEND_RUNNING_AFTER", default=600)
# Re-runs (button, API, admin action): at most this many per user in a window of this many seconds
# (counted in the shared cache), and never a second one of an image by a model version while one
# is queued or running.
SKINPORTAL_RERUNS_PER_WINDOW = env.int("SKINPORTAL_RERUNS_PER_WINDOW", default=10)
SKINPORTAL_RERUN_WINDOW_SECONDS = env.int("SKINPORTAL_RERUN_WINDOW_SECONDS", default=60)
# The embedded default has no beat process: with tasks in-process (CELERY_TASK_ALWAYS_EAGER), a
# thread of the web process sweeps every SKINPORTAL_IN_PROCESS_SWEEP_SECONDS instead (0: never),
# at most SKINPORTAL_SWEEP_BATCH predictions a time (inference.sweep).
SKINPORTAL_IN_PROCESS_SWEEP_SECONDS = env.int("SKINPORTAL_IN_PROCESS_SWEEP_SECONDS", default=60)
SKINPORTAL_SWEEP_BATCH = env.int("SKINPORTAL_SWEEP_BATCH", default=10)
CELERY_BEAT_SCHEDULE = {
    "resend-stalled-predictions": {"task": "inference.tasks.resend_stalled_predictions", "schedule": 60.0},
}

# --- Security ----------------------------------------------------------------------------
# Sessions end after SESSION_COOKIE_AGE seconds without a request (idle timeout: every request
# renews the expiry); production also ends them when the browser closes.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 60 * 60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_HTTPONLY = True
# Lax, not Strict: links in notification e-mails must land in the open session.
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Login lockout (django-axes): after AXES_FAILURE_LIMIT failed logins for one username from one
# client address, that pair is refused for AXES_COOLOFF_MINUTES (0: until an admin deletes the
# "Access attempt" in the admin), on the web login, the admin login and POST /api/v1/auth/token/.
# Username and address together: a lockout per address alone would let one attacker lock out a
# whole clinic behind one NAT, a lockout per username alone would let anyone lock out any
# clinician. The API's per-address throttle (API_THROTTLE_TOKEN) limits guessing across usernames.
# Across usernames, failed logins per client address are limited too (audit.backends): after
# SKINPORTAL_LOGIN_FAILURES_PER_ADDRESS in SKINPORTAL_LOGIN_ADDRESS_WINDOW_MINUTES, every login from
# that address is refused (429) until older failures leave the window.
SKINPORTAL_LOGIN_FAILURES_PER_ADDRESS = env.int("SKINPORTAL_LOGIN_FAILURES_PER_ADDRESS", default=10)
SKINPORTAL_LOGIN_ADDRESS_WINDOW_MINUTES = env.int("SKINPORTAL_LOGIN_ADDRESS_WINDOW_MINUTES", default=15)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
_axes_cooloff_minutes = env.int("AXES_COOLOFF_MINUTES", default=15)
AXES_COOLOFF_TIME = timedelta(minutes=_axes_cooloff_minutes) if _axes_cooloff_minutes > 0 else None
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True  # a successful login clears the count of failures
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"  # the site's page (templates/registration/locked_out.html)
# audit.AccessLog already records every login, failed login and logout.
AXES_DISABLE_ACCESS_LOG = True
AXES_COOLOFF_MESSAGE = (
    f"Too many failed logins: this username is blocked from your network for {_axes_cooloff_minutes} "
    "minutes. Try again later, or ask an administrator to unlock it."
)
AXES_PERMALOCK_MESSAGE = (
    "Too many failed logins: this username is blocked from your network. Ask an administrator to unlock it."
)


def _axes_client_ip(request):
    """The client address as the audit log and the API throttles read it (``API_NUM_PROXIES``
    deep into X-Forwarded-For), so that a client cannot pick its own address to dodge a lockout."""
    from audit.selectors import client_ip

    return client_ip(request=request)


AXES_CLIENT_IP_CALLABLE = _axes_client_ip

# Content-Security-Policy (django-csp), in every profile so that a violation shows up in
# development too. No inline script or style anywhere in the app: scripts and styles come from
# static files. Images may be data: URLs (the admin's icons) and, with S3 storage, come from the
# bucket (image views redirect to short-lived signed URLs).
_csp_img_src = ["'self'", "data:"]
if STORAGE_BACKEND == "s3":
    _s3_bucket = env("AWS_STORAGE_BUCKET_NAME")
    _s3_endpoint = env("AWS_S3_ENDPOINT_URL", default=None)
    if _s3_endpoint:
        _s3_url = urlsplit(_s3_endpoint)
        # Path-style (endpoint/bucket/key) and virtual-host-style (bucket.endpoint/key) URLs.
        _csp_img_src += [f"{_s3_url.scheme}://{_s3_url.netloc}", f"{_s3_url.scheme}://{_s3_bucket}.{_s3_url.netloc}"]
    else:
        _s3_region = env("AWS_S3_REGION_NAME", default=None)
        _csp_img_src += [f"https://{_s3_bucket}.s3.amazonaws.com"]
        if _s3_region:
            _csp_img_src += [f"https://{_s3_bucket}.s3.{_s3_region}.amazonaws.com"]
_csp_img_src += env.list("CSP_IMG_SRC_EXTRA", default=[])
_csp_directives = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": _csp_img_src,
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
if env("CSP_REPORT_URI", default=""):
    _csp_directives["report-uri"] = [env("CSP_REPORT_URI")]
_csp_policy = {
    # The interactive API docs (Swagger UI, ReDoc) add inline styles and a blob: worker to this
    # policy on their own views (skinportal/api_urls.py, csp_update); their scripts are files.
    "DIRECTIVES": _csp_directives,
}
# CSP_REPORT_ONLY=true sends the policy as Content-Security-Policy-Report-Only: browsers report
# violations (to CSP_REPORT_URI) but block nothing. For trying out a change of the policy.
if env.bool("CSP_REPORT_ONLY", default=False):
    CONTENT_SECURITY_POLICY = None
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _csp_policy
else:
    CONTENT_SECURITY_POLICY = _csp_policy
    CONTENT_SECURITY_POLICY_REPORT_ONLY = None

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    # WeasyPrint logs each rendering step at INFO; its warnings (e.g. a refused URL) still show.
    "loggers": {"weasyprint": {"level": "WARNING"}},
}

# Inference: model files (the bundled model lives in models/) and LiteRT threads per process.
SKINPORTAL_MODELS_DIR = Path(env("SKINPORTAL_MODELS_DIR", default=str(BASE_DIR / "models")))
SKINPORTAL_INFERENCE_THREADS = env.int("SKINPORTAL_INFERENCE_THREADS", default=1)
