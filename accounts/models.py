import hashlib
import secrets
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core.cache import cache
from django.core.validators import RegexValidator
from django.db import models, transaction
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from sora_site.keyset import KeysetQuerySet, make_cursor

RESERVED_HANDLES = {
    "admin", "api", "accounts", "invite", "invites", "static", "media", "ws", "verify", "settings",
    "create", "drafts", "cameos", "feed", "following", "notifications", "staff", "moderation",
    "support", "help", "root", "system", "sora", "v1", "rq", "me", "deleted", "p", "g",
}  # fmt: skip

handle_validator = RegexValidator(
    r"^[A-Za-z][A-Za-z0-9_.]{2,29}$",
    "A handle is 3 to 30 characters: letters, digits, '_' or '.', starting with a letter.",
)


def age_on(birth_date: date, today: date) -> int:
    years = today.year - birth_date.year
    if (today.month, today.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


# How long a signed-in person's row may be served from the cache (`User.cached`): every page
# needs it, and reading it was a query per request (BENCHMARKS.md, feed round 6). Saving,
# deleting or `update()`-ing users forgets their entries at once and again after the
# transaction commits (a request that read the old row before the commit could still store it
# after: the bound covers that race too). This is the bound for what can't be seen from here as
# well: a raw SQL write, or per-process caches (CACHE_URL locmem://) with several web processes.
USER_CACHE_SECONDS = 60


def _user_cache_key(pk) -> str:
    return f"accounts:user:{pk}"


# (pk, the cache's answer for that user) when it was read together with other keys
# (accounts.backends.viewer_and_cached): `User.cached` takes it instead of reading it again.
_read_with_others: ContextVar[tuple | None] = ContextVar("accounts_user_read_with_others", default=None)


def forget_cached_users(pks) -> None:
    """Drop the cached rows of these users now and when the current transaction commits."""
    keys = [_user_cache_key(pk) for pk in pks]
    if keys:
        cache.delete_many(keys)
        if transaction.get_connection().in_atomic_block:
            transaction.on_commit(lambda: cache.delete_many(keys))


class UserQuerySet(models.QuerySet):
    """Bulk writes to users forget their cached rows (a suspension's `update(is_active=False)`
    must end the person's sessions now, not when the cache entry runs out)."""

    def update(self, **kwargs) -> int:
        pks = list(self.values_list("pk", flat=True))
        count = super().update(**kwargs)
        forget_cached_users(pks)
        return count

    def delete(self):
        pks = list(self.values_list("pk", flat=True))
        result = super().delete()
        forget_cached_users(pks)
        return result


class UserManager(DjangoUserManager.from_queryset(UserQuerySet)):
    """Django's manager keyed on `handle` instead of `username`."""

    def _create_user(self, handle, email, password, **extra_fields):
        email = self.normalize_email(email)
        user = self.model(handle=handle, email=email, **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, handle, email=None, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(handle, email, password, **extra_fields)

    def create_superuser(self, handle, email=None, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(handle, email, password, **extra_fields)

    def get_by_natural_key(self, handle):
        return self.get(handle__iexact=handle)


class User(AbstractUser):
    username = None
    first_name = None
    last_name = None
    handle = models.CharField(max_length=30, unique=True, validators=[handle_validator])
    email = models.EmailField("email address")
    display_name = models.CharField(max_length=50, blank=True)
    bio = models.TextField(max_length=300, blank=True)
    avatar = models.ImageField(upload_to="avatars/", blank=True)
    birth_date = models.DateField(null=True, blank=True)

    USERNAME_FIELD = "handle"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    objects = UserManager()

    class Meta:
        constraints = [
            # "@Ada" and "@ada" are the same person: handles are unique ignoring case.
            models.UniqueConstraint(Lower("handle"), name="accounts_user_handle_ci_unique"),
        ]

    def __str__(self) -> str:
        return f"@{self.handle}"

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        forget_cached_users([self.pk])

    def delete(self, *args, **kwargs):
        pk = self.pk
        result = super().delete(*args, **kwargs)
        forget_cached_users([pk])
        return result

    @staticmethod
    def cache_key(pk) -> str:
        return _user_cache_key(pk)

    @staticmethod
    @contextmanager
    def read_with_others(pk, user: "User | None"):
        """Within, `cached(pk)` takes `user` as the cache's answer (None: no entry), read by the
        caller in one round trip with other keys (accounts.backends.viewer_and_cached)."""
        token = _read_with_others.set((pk, user))
        try:
            yield
        finally:
            _read_with_others.reset(token)

    @classmethod
    def cached(cls, pk) -> "User | None":
        """The user with this pk as the cache has it (up to `USER_CACHE_SECONDS` old, and
        forgotten whenever the row is written through the ORM), else from the database; None
        when there is none. No query on a hit."""
        key = _user_cache_key(pk)
        read = _read_with_others.get()
        user = read[1] if read is not None and read[0] == pk else cache.get(key)
        if user is None:
            user = cls._default_manager.filter(pk=pk).first()
            if user is None:
                return None
            cache.set(key, user, USER_CACHE_SECONDS)
        return user

    def get_absolute_url(self) -> str:
        return reverse("feed:profile", args=[self.handle])

    @property
    def name(self) -> str:
        return self.display_name or self.handle

    @property
    def is_teen(self) -> bool:
        """Under 18 today; accounts without a birth date (staff made by command) are adults."""
        if self.birth_date is None:
            return False
        return age_on(self.birth_date, timezone.localdate()) < settings.ADULT_AGE


def new_invite_code() -> str:
    # 26 characters of an unambiguous alphabet: 128 bits, so codes can't be guessed; people
    # follow the /invite/<code> link rather than type it.
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(26))


def default_invite_expiry():
    return timezone.now() + timedelta(days=settings.INVITE_LIFETIME_DAYS)


class InviteQuerySet(models.QuerySet):
    def usable(self):
        return self.filter(used_by__isnull=True, expires__gt=timezone.now())


class Invite(models.Model):
    code = models.CharField(max_length=32, unique=True, default=new_invite_code)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="invites"
    )
    created = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField(default=default_invite_expiry)
    # One-to-one: an invite admits one person, and a person arrives through at most one invite.
    used_by = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invited_by_code",
    )
    used_at = models.DateTimeField(null=True, blank=True)

    objects = InviteQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(used_by__isnull=True, used_at__isnull=True)
                | models.Q(used_by__isnull=False, used_at__isnull=False),
                name="accounts_invite_used_pair",
            ),
        ]
        indexes = [
            # "My invites" lists a user's codes newest first.
            models.Index(fields=["created_by", "-created"], name="accounts_invite_owner_idx"),
        ]

    def __str__(self) -> str:
        return self.code

    def get_absolute_url(self) -> str:
        return reverse("accounts:invite", args=[self.code])

    @property
    def is_used(self) -> bool:
        return self.used_by_id is not None

    @property
    def is_expired(self) -> bool:
        return self.expires <= timezone.now()


class Block(models.Model):
    """`blocker` no longer sees `blocked`, and `blocked` can't follow, comment on or use cameos of `blocker`."""

    blocker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks_made"
    )
    blocked = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks_received"
    )
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="accounts_block_unique"),
            models.CheckConstraint(
                condition=~models.Q(blocker=models.F("blocked")), name="accounts_block_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.blocker} blocks {self.blocked}"

    @staticmethod
    def between(a_id: int, b_id: int) -> bool:
        """True when either user blocks the other."""
        return Block.objects.filter(
            models.Q(blocker_id=a_id, blocked_id=b_id) | models.Q(blocker_id=b_id, blocked_id=a_id)
        ).exists()


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A personal API token. Only its SHA-256 is stored; the raw value is shown once."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=60)
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(default=timezone.now)
    last_used = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API token"
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, owner, name: str) -> tuple["ApiToken", str]:
        raw = "sk-sora-" + secrets.token_urlsafe(32)
        token = cls.objects.create(owner=owner, name=name, prefix=raw[:12], digest=hash_token(raw))
        return token, raw

    @classmethod
    def authenticate(cls, raw: str):
        """Return the owner of a live token, or None. One query plus a throttled touch."""
        token = (
            cls.objects.select_related("owner").filter(digest=hash_token(raw), revoked__isnull=True).first()
        )
        if token is None or not token.owner.is_active:
            return None
        now = timezone.now()
        if token.last_used is None or now - token.last_used > timedelta(minutes=1):
            cls.objects.filter(pk=token.pk).update(last_used=now)
        return token.owner


class Follow(models.Model):
    """`follower` sees `followee`'s posts in Following and their followers-only posts."""

    # db_index off: feed_follow_once leads with follower.
    follower = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="following_set", db_index=False
    )
    followee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="follower_set", db_index=False
    )
    created = models.DateTimeField(default=timezone.now)

    objects = KeysetQuerySet.as_manager()

    class Meta:
        # Made by the feed app before follows moved here (beside Block, for the cameo "mutuals" rule).
        db_table = "feed_follow"
        constraints = [
            # One follow per pair; also the index for visible_to's "do I follow the author?" and
            # the Following feed's followee list.
            models.UniqueConstraint(fields=["follower", "followee"], name="feed_follow_once"),
            models.CheckConstraint(
                condition=~models.Q(follower=models.F("followee")), name="feed_follow_not_self"
            ),
        ]
        indexes = [
            # Follower lists and follower counts: who follows this person, newest first.
            models.Index(fields=["followee", "-created"], name="feed_follow_followee_idx"),
            # Following lists: whom this person follows, newest first.
            models.Index(fields=["follower", "-created"], name="feed_follow_follower_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.follower_id} follows {self.followee_id}"

    @property
    def cursor(self) -> str:
        return make_cursor(self.created, self.pk)
