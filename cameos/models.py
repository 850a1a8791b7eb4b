"""Cameos: a person's verified likeness or a character, who may use it, and the consent ledger.

Every decision about who may use a cameo is `Cameo.objects.usable_by(user)`; `Cameo.may_be_used_by`,
the Create picker, the submit, remix, worker and posting checks all start from it.
"""

import hashlib
import json
import secrets
from datetime import UTC, timedelta
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from cameos.querysets import CameoQuerySet, WithdrawalQuerySet

GENESIS_HASH = "0" * 64


def new_code() -> str:
    # 22 URL-safe characters (128 bits): cameos, uses and challenges can't be guessed or enumerated.
    return secrets.token_urlsafe(16)


def challenge_expiry():
    return timezone.now() + timedelta(seconds=settings.CAMEO_CHALLENGE_TTL_SECONDS)


class Challenge(models.Model):
    """Digits to read and head turns to make, issued to one person right before they record.

    Single-use (`used` is set by a conditional UPDATE when a recording is accepted against it)
    and short-lived (`expires`).
    """

    nonce = models.CharField(max_length=32, unique=True, default=new_code, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cameo_challenges"
    )
    digits = models.CharField(max_length=12)
    turns = models.JSONField(default=list)
    created = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField(default=challenge_expiry)
    used = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(expires__gt=models.F("created")), name="cameos_challenge_expires"
            ),
        ]

    def __str__(self) -> str:
        return f"challenge {self.nonce[:6]}… for {self.owner_id}"

    @property
    def is_expired(self) -> bool:
        return self.expires <= timezone.now()

    def as_liveness(self):
        from cameos.liveness import Challenge as LivenessChallenge

        return LivenessChallenge(digits=self.digits, turns=tuple(self.turns))

    def as_dict(self) -> dict:
        """What the recorder page shows; primitives only."""
        return {
            "nonce": self.nonce,
            "digits": self.digits,
            "spoken": " ".join(self.digits),
            "turns": list(self.turns),
            "instructions": self.as_liveness().instructions(),
            "expires_in": max(0, int((self.expires - timezone.now()).total_seconds())),
        }


class Cameo(models.Model):
    class Kind(models.TextChoices):
        PERSON = "person", "Me"
        CHARACTER = "character", "Character"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be checked"
        CHECKING = "checking", "Checking"
        ACTIVE = "active", "Verified"
        # The face matches another account's cameo or a listed public figure: a moderator decides.
        REVIEW = "review", "Waiting for review"
        REJECTED = "rejected", "Rejected"
        DELETED = "deleted", "Deleted"

    class VoiceStatus(models.TextChoices):
        NONE = "none", "Not recorded"
        CHECKING = "checking", "Checking your reading"
        READY = "ready", "Ready"
        REJECTED = "rejected", "Not accepted"

    class Permission(models.TextChoices):
        ONLY_ME = "only_me", "Only me"
        APPROVED = "approved", "People I approve"
        MUTUALS = "mutuals", "Mutuals"
        EVERYONE = "everyone", "Everyone"

    code = models.CharField(max_length=32, unique=True, default=new_code, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cameos")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PERSON)
    name = models.CharField(
        max_length=60, blank=True, help_text="A character's name; people go by their handle."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    permission = models.CharField(max_length=10, choices=Permission.choices, default=Permission.ONLY_ME)
    preferences = models.TextField(
        max_length=500, blank=True, help_text="How you appear, added to every prompt that uses this cameo."
    )
    restrictions = models.TextField(
        max_length=500,
        blank=True,
        help_text="Topics you refuse, one per line or comma-separated (moderation's prompt policy enforces them).",
    )
    challenge = models.OneToOneField(
        Challenge, null=True, blank=True, on_delete=models.SET_NULL, related_name="cameo"
    )
    attested = models.DateTimeField(
        null=True, blank=True, help_text="When the owner attested that a character is theirs to use."
    )
    voice_embedding = models.JSONField(null=True, blank=True)
    # Voice use is opt-in twice over: the owner reads a 30-60 s passage (checked against the voice of
    # the verified recording), and can switch use off (and back on) at any time afterwards.
    voice_use = models.BooleanField(
        default=False, help_text="Videos of this cameo may speak in the owner's voice."
    )
    voice_status = models.CharField(max_length=10, choices=VoiceStatus.choices, default=VoiceStatus.NONE)
    voice_passage = models.TextField(blank=True, help_text="The passage the owner was asked to read.")
    voice_reasons = models.JSONField(default=list, blank=True, help_text="Why the reading was refused.")
    voice_checks = models.JSONField(
        default=dict, blank=True, help_text="Voice sample measurements, for staff."
    )
    face_embedding = models.JSONField(null=True, blank=True)
    reasons = models.JSONField(default=list, blank=True, help_text="Why it was rejected, for the owner.")
    checks = models.JSONField(default=dict, blank=True, help_text="Liveness measurements, for staff.")
    created = models.DateTimeField(default=timezone.now)
    verified = models.DateTimeField(null=True, blank=True)
    deleted = models.DateTimeField(null=True, blank=True)

    objects = CameoQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        constraints = [
            # One likeness per person: a new recording waits until the last one is judged or deleted.
            models.UniqueConstraint(
                fields=["owner"],
                condition=Q(kind="person", status__in=["pending", "checking", "active", "review"]),
                name="cameos_one_live_person_cameo",
            ),
            models.CheckConstraint(
                condition=Q(kind="person") | Q(attested__isnull=False, name__gt=""),
                name="cameos_character_named_and_attested",
            ),
            models.CheckConstraint(
                condition=Q(permission__in=["only_me", "approved", "mutuals", "everyone"]),
                name="cameos_permission_valid",
            ),
        ]
        indexes = [
            # "My cameos" and @mention lookups: one owner's cameos, newest first.
            models.Index(fields=["owner", "-created"], name="cameos_cameo_owner_idx"),
        ]

    def __str__(self) -> str:
        return self.label

    def get_absolute_url(self) -> str:
        return reverse("cameos:detail", args=[self.code])

    @property
    def label(self) -> str:
        """How the cameo is named to people: '@ada' or 'Rex (@ada's character)'."""
        if self.kind == self.Kind.CHARACTER:
            return f"{self.name} (@{self.owner.handle}'s character)"
        return f"@{self.owner.handle}"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def speaks_in_own_voice(self) -> bool:
        """Videos of this cameo get its owner's voice: verified, a passage accepted, use switched on."""
        return (
            self.kind == self.Kind.PERSON
            and self.is_active
            and self.voice_use
            and self.voice_status == self.VoiceStatus.READY
        )

    @property
    def is_final(self) -> bool:
        return self.status not in (self.Status.PENDING, self.Status.CHECKING)

    def may_be_used_by(self, user) -> bool:
        """Whether `user` may use this cameo now: `usable_by` for one row (one query)."""
        return Cameo.objects.usable_by(user).filter(pk=self.pk).exists()

    def event(self) -> dict:
        """The payload pushed to the owner's pages when the verdict changes; primitives only."""
        return {
            "kind": "cameo",
            "code": self.code,
            "status": self.status,
            "status_label": self.get_status_display(),
            "reasons": list(self.reasons),
            "voice_status": self.voice_status,
            "voice_reasons": list(self.voice_reasons),
            "url": self.get_absolute_url(),
            "status_url": reverse("cameos:status", args=[self.code]),
        }


def media_upload_path(instance: "CameoMedia", filename: str) -> str:
    # Under the private prefix, never served directly: only through permission-checked views.
    suffix = PurePath(filename).suffix.lower()[:8]
    return f"private/cameos/{instance.cameo.code}/{instance.role}-{instance.position}-{new_code()}{suffix}"


class CameoMedia(models.Model):
    """A file of a cameo: the original recording or uploads, reference images, the voice sample."""

    class Role(models.TextChoices):
        RECORDING = "recording", "Original recording"
        SOURCE = "source", "Uploaded file"
        REFERENCE = "reference", "Reference image"
        VOICE = "voice", "Voice sample"
        # The voice passage: position 0 as uploaded, 1 its speech as mono 16 kHz WAV (what the voice
        # routes use). FEATURES: the kNN-VC matching set computed once from it (a .npy file).
        PASSAGE = "passage", "Voice passage"
        FEATURES = "features", "Voice features"

    cameo = models.ForeignKey(Cameo, on_delete=models.CASCADE, related_name="media")
    role = models.CharField(max_length=10, choices=Role.choices)
    position = models.PositiveSmallIntegerField(default=0)
    file = models.FileField(upload_to=media_upload_path, max_length=200)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["role", "position"]
        constraints = [
            # Also the index for the media view's (cameo, role, position) lookup.
            models.UniqueConstraint(fields=["cameo", "role", "position"], name="cameos_media_slot_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.role} {self.position} of {self.cameo_id}"

    def get_absolute_url(self) -> str:
        return reverse("cameos:media", args=[self.cameo.code, self.role, self.position])


class Approval(models.Model):
    """`user` is on the approval list of `cameo` (used at the approved and mutuals levels)."""

    cameo = models.ForeignKey(Cameo, on_delete=models.CASCADE, related_name="approvals")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cameo_approvals"
    )
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created"]
        constraints = [
            # One approval per person; also the index for usable_by's (cameo, user) subquery.
            models.UniqueConstraint(fields=["cameo", "user"], name="cameos_approval_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} may use {self.cameo_id}"


class LedgerEntry(models.Model):
    """One event in a cameo's consent history. Append-only: entries are chained by `prev_hash`,
    and `hash` covers everything that identifies the event (see `payload`), so an edited, removed
    or reordered entry breaks the chain (`cameos.ledger.verify_chain`).

    The foreign keys are for queries only and may become NULL when a user or video is deleted;
    the hash covers the copies of them kept in `data`.
    """

    class Kind(models.TextChoices):
        CREATED = "created", "Cameo created"
        CHANGED = "changed", "Settings changed"
        GRANTED = "granted", "Permission granted"
        REVOKED = "revoked", "Permission revoked"
        USED = "used", "Used in a video"
        BLOCKED = "blocked", "Use refused"
        STOPPED = "stopped", "Video stopped"
        REMOVED = "removed", "Video removed"
        DELETED = "deleted", "Cameo deleted"

    cameo = models.ForeignKey(Cameo, on_delete=models.CASCADE, related_name="ledger")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    generation = models.ForeignKey(
        "generation.Generation", null=True, blank=True, on_delete=models.SET_NULL, related_name="cameo_ledger"
    )
    data = models.JSONField(default=dict)
    created = models.DateTimeField(default=timezone.now)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        verbose_name_plural = "ledger entries"
        ordering = ["cameo", "seq"]
        constraints = [
            # One chain per cameo, no forks; also the index for reading a chain in order.
            models.UniqueConstraint(fields=["cameo", "seq"], name="cameos_ledger_seq_unique"),
            models.CheckConstraint(condition=Q(seq__gte=1), name="cameos_ledger_seq_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.cameo_id}#{self.seq} {self.kind}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Ledger entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Ledger entries are append-only.")

    def payload(self, cameo_code: str) -> dict:
        return {
            "cameo": cameo_code,
            "seq": self.seq,
            "kind": self.kind,
            "created": self.created.astimezone(UTC).isoformat(),
            "data": self.data,
            "prev_hash": self.prev_hash,
        }

    def compute_hash(self, cameo_code: str) -> str:
        """sha256 of the canonical JSON (sorted keys, no spaces, UTF-8) of `payload`."""
        canonical = json.dumps(
            self.payload(cameo_code), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


class CameoUse(models.Model):
    """A video that used, or a request that tried to use, a cameo. The owner's "My cameo" page
    lists these, other people's drafts included."""

    class Status(models.TextChoices):
        USED = "used", "Used"
        REFUSED = "refused", "Refused"
        STOPPED = "stopped", "Stopped: no longer allowed"
        REMOVED = "removed", "Deleted by you"

    code = models.CharField(max_length=32, unique=True, default=new_code, editable=False)
    cameo = models.ForeignKey(Cameo, on_delete=models.CASCADE, related_name="uses")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cameo_uses_made"
    )
    generation = models.ForeignKey(
        "generation.Generation", null=True, blank=True, on_delete=models.SET_NULL, related_name="cameo_uses"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.USED)
    inherited = models.BooleanField(default=False, help_text="Came with the remixed or continued video.")
    reason = models.CharField(max_length=300, blank=True)
    seen = models.BooleanField(default=False, help_text="The cameo's owner has seen it on their page.")
    ledger_entry = models.OneToOneField(
        LedgerEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="use"
    )
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["cameo", "generation"],
                condition=Q(generation__isnull=False),
                name="cameos_use_once_per_video",
            ),
        ]
        indexes = [
            # "My cameo" page: one cameo's uses newest first.
            models.Index(fields=["cameo", "-created"], name="cameos_use_cameo_idx"),
            # The cameo list's "new uses" counts: unseen uses per cameo, from a small partial index.
            models.Index(fields=["cameo"], condition=Q(seen=False), name="cameos_use_unseen_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.status} {self.cameo_id}"

    @property
    def status_text(self) -> str:
        if self.status == self.Status.USED and self.generation_id is None:
            return "Deleted by its creator"
        return self.get_status_display()


class Withdrawal(models.Model):
    """Someone else's video that shows a cameo whose consent ended (level narrowed, approval
    removed, block, unfollow, cameo or account deleted, ban): from then on it is served to nobody
    but the likeness owner (from their cameo page) and moderators, and can't be a source for a new
    video. It outlives the draft and the post, so their old addresses answer 410 with the reason,
    and `/verify` of a copy downloaded earlier (found by its tracking mark) names the withdrawal.

    Written in the same transaction as the ledger's `stopped`/`removed` entry it mirrors.
    """

    cameo = models.ForeignKey(Cameo, null=True, on_delete=models.SET_NULL, related_name="withdrawals")
    generation = models.ForeignKey(
        "generation.Generation", null=True, on_delete=models.SET_NULL, related_name="withdrawals"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Copies that outlive the rows: the addresses that now answer 410, and the export's mark.
    generation_code = models.CharField(max_length=32)
    post_code = models.CharField(max_length=32, blank=True)
    tracking_id = models.BigIntegerField(null=True, blank=True)
    owner_handle = models.CharField(max_length=30, help_text="Whose consent ended (their handle then).")
    reason = models.CharField(max_length=120, help_text="How it ended: 'approval removed', 'blocked', ...")
    ledger_entry = models.ForeignKey(LedgerEntry, null=True, on_delete=models.SET_NULL, related_name="+")
    created = models.DateTimeField(default=timezone.now)

    objects = WithdrawalQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        indexes = [
            # The draft page, its media and the source checks: is this draft withdrawn?
            models.Index(fields=["generation_code"], name="cameos_withdrawal_gen_idx"),
            # The post page and its media, once the post is gone.
            models.Index(fields=["post_code"], condition=~Q(post_code=""), name="cameos_withdrawal_post_idx"),
            # /verify of a copy downloaded before the withdrawal.
            models.Index(fields=["tracking_id"], name="cameos_withdrawal_tracking_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.generation_code} withdrawn by @{self.owner_handle}"

    @property
    def text(self) -> str:
        return f"Removed because @{self.owner_handle} withdrew consent ({self.reason})."


class LikenessDispute(models.Model):
    """A new person cameo held for a moderator because its face matches another account's verified
    or held cameo, or a listed public figure's reference picture (one face, one owner). The
    submitter is only told it needs review; the admin shows both recordings side by side.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        VERIFIED = "verified", "Verified: not the same person"
        REJECTED = "rejected", "Rejected: someone else's face"

    cameo = models.ForeignKey(Cameo, on_delete=models.CASCADE, related_name="disputes")
    matched_cameo = models.ForeignKey(
        Cameo, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    matched_figure = models.ForeignKey(
        "moderation.PublicFigure", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    distance = models.FloatField(help_text="dlib face-embedding distance (lower is more alike).")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created = models.DateTimeField(default=timezone.now)
    resolved = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created"]
        indexes = [
            # The moderators' queue: open disputes, newest first.
            models.Index(fields=["status", "-created"], name="cameos_dispute_queue_idx"),
        ]

    def __str__(self) -> str:
        return f"likeness dispute on {self.cameo_id}"
