import secrets
from datetime import datetime

from django.conf import settings
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from generation.signals import generation_files

FINAL_STATUSES = ("succeeded", "failed", "cancelled")
# "No mean run time given": look it up (None is a real answer, meaning no history yet).
UNKNOWN = object()


def new_generation_code() -> str:
    # 32 hex digits (128 bits): a draft's pages and media can't be guessed.
    return secrets.token_hex(16)


def generation_upload_path(instance: "Generation", filename: str) -> str:
    # Drafts live under a private prefix that is never served directly, only through views
    # that check who is asking.
    return f"private/generations/{instance.code}/{filename}"


class GenerationQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status__in=[Generation.Status.QUEUED, Generation.Status.RUNNING])

    def visible_to(self, user):
        """Generations (drafts) a user may look at: their own; staff see all."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self
        return self.filter(owner=user)


class Generation(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Orientation(models.TextChoices):
        PORTRAIT = "portrait", "Portrait"
        LANDSCAPE = "landscape", "Landscape"

    class Stage(models.TextChoices):
        QUEUED = "queued", "Queued"
        LOADING = "loading", "Loading model"
        GENERATING = "generating", "Generating"
        DECODING = "decoding", "Decoding"
        VOICE = "voice", "Matching the cameo's voice"
        ENCODING = "encoding", "Encoding"
        CHECKING = "checking", "Checking"
        FINISHING = "finishing", "Finishing"
        DONE = "done", "Done"

    code = models.CharField(max_length=32, unique=True, default=new_generation_code, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generations")
    prompt = models.TextField(max_length=2000)
    # Storyboard: [{"prompt": str, "seconds": int}, ...]; empty for a single prompt.
    storyboard = models.JSONField(default=list, blank=True)
    seconds = models.PositiveSmallIntegerField()
    orientation = models.CharField(max_length=10, choices=Orientation.choices, default=Orientation.PORTRAIT)
    seed = models.BigIntegerField()
    source = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="remixes",
        help_text="The generation this one remixes or extends.",
    )  # fmt: skip
    source_image = models.ImageField(upload_to=generation_upload_path, blank=True)

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.QUEUED)
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    shot = models.PositiveSmallIntegerField(default=0)
    shots = models.PositiveSmallIntegerField(default=1)
    error = models.CharField(max_length=300, blank=True, help_text="Shown to the owner.")
    error_detail = models.TextField(blank=True, help_text="For staff only.")
    cancel_requested = models.BooleanField(default=False)

    model_id = models.CharField(max_length=300, blank=True)
    rq_job_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True)
    timings = models.JSONField(default=dict, blank=True)

    video = models.FileField(upload_to=generation_upload_path, blank=True)
    poster = models.ImageField(upload_to=generation_upload_path, blank=True)
    sprite = models.ImageField(upload_to=generation_upload_path, blank=True)
    preview = models.ImageField(upload_to=generation_upload_path, blank=True)

    class Check(models.TextChoices):
        PENDING = "pending", "Not checked yet"
        PASSED = "passed", "Passed"
        REVIEW = "review", "Waiting for a moderator"
        BLOCKED = "blocked", "Blocked"
        RELEASED = "released", "Released by a moderator"

    # Output moderation (moderation/output_check.py): nothing is shared until this says so.
    check_status = models.CharField(max_length=10, choices=Check.choices, default=Check.PENDING)
    check_category = models.CharField(max_length=30, blank=True)
    check_reason = models.CharField(max_length=300, blank=True)
    check_scores = models.JSONField(default=dict, blank=True)
    check_frames = models.ImageField(upload_to=generation_upload_path, blank=True)

    # Which voice the speech has, when a cameo's voice was used: route ("idlora" in the generator,
    # "knnvc" after it), checkpoints with their sha256, the cameo's code, and the stage's report.
    # Empty when the voice is the model's own. Copied into the export's C2PA manifest.
    voice = models.JSONField(default=dict, blank=True)

    class StoryboardMode(models.TextChoices):
        NONE = "", "Single shot"
        ONE_PASS = "one_pass", "In one pass"
        SEQUENTIAL = "sequential", "Shot by shot"

    # How a storyboard was rendered: every shot in one joint pass (identity and sound carry across
    # cuts) or shot by shot, each from the previous one's last frame (storyboards too long for one).
    storyboard_mode = models.CharField(max_length=10, choices=StoryboardMode.choices, blank=True)
    # A retake regenerates [retake_start, retake_end) seconds of `source` (the owner's own video) from
    # `prompt`, keeping what is before and after; both are null for every other generation.
    retake_start = models.FloatField(null=True, blank=True)
    retake_end = models.FloatField(null=True, blank=True)

    width = models.PositiveSmallIntegerField(null=True, blank=True)
    height = models.PositiveSmallIntegerField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True)

    objects = GenerationQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(condition=models.Q(seconds__gt=0), name="generation_seconds_positive"),
            models.CheckConstraint(
                condition=models.Q(retake_start__isnull=True, retake_end__isnull=True)
                | models.Q(
                    retake_start__gte=0, retake_end__gt=models.F("retake_start"), source__isnull=False
                ),
                name="generation_retake_range",
            ),
        ]
        indexes = [
            # Drafts page: a user's generations newest first.
            models.Index(fields=["owner", "-created"], name="generation_owner_created_idx"),
            # Queue position and the per-user active limit: queued/running rows by age.
            models.Index(fields=["status", "created"], name="generation_status_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("generation:detail", args=[self.code])

    @property
    def is_retake(self) -> bool:
        return self.retake_start is not None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def is_shareable(self) -> bool:
        """Finished and cleared by the output check (or released by a moderator): only then may it
        be posted, shared, remixed or downloaded by anyone but its owner and staff."""
        return self.status == self.Status.SUCCEEDED and self.check_status in (
            self.Check.PASSED,
            self.Check.RELEASED,
        )

    @property
    def is_active(self) -> bool:
        return not self.is_final

    @property
    def percent(self) -> int:
        """Overall progress 0-100 across shots, with encoding and checking as the last slice."""
        if self.status == self.Status.SUCCEEDED:
            return 100
        if self.status == self.Status.QUEUED or not self.total_steps:
            return 0
        per_shot = 90 / max(self.shots, 1)
        done = self.shot * per_shot + per_shot * min(self.step, self.total_steps) / self.total_steps
        if self.stage in (self.Stage.ENCODING, self.Stage.CHECKING, self.Stage.FINISHING):
            done = 95
        return int(min(99, done))

    def queue_position(self) -> int | None:
        """1-based place among all queued jobs, oldest first; None unless queued."""
        if self.status != self.Status.QUEUED:
            return None
        return Generation.objects.filter(status=self.Status.QUEUED, created__lt=self.created).count() + 1

    def output_fields(self) -> dict:
        """What a finished job writes back to the row besides its status: the stored files and
        what the output check found (also rewritten alone by a re-check)."""
        return {
            "check_status": self.check_status,
            "check_category": self.check_category,
            "check_reason": self.check_reason,
            "check_scores": self.check_scores,
            "check_frames": self.check_frames.name,
        }

    def stage_text(self, position: int | None = None, mean_run=UNKNOWN) -> str:
        """`mean_run` (from `mean_run_seconds()`) saves a query when many rows are described."""
        if self.status == self.Status.QUEUED:
            position = position if position is not None else self.queue_position()
            eta = estimate_wait_seconds(position, mean_run)
            text = f"Queued: position {position}"
            return f"{text}, about {eta} s" if eta else text
        if self.status == self.Status.RUNNING:
            if self.stage == self.Stage.GENERATING:
                shot = f" (shot {self.shot + 1} of {self.shots})" if self.shots > 1 else ""
                return f"Generating: step {self.step} of {self.total_steps}{shot}"
            return self.get_stage_display() + "…"
        if self.status == self.Status.FAILED:
            return self.error or "Failed"
        return self.get_status_display()

    def event(self, position: int | None = None, preview: str | None = None, mean_run=UNKNOWN) -> dict:
        """The payload pushed to the owner's browsers; primitives only."""
        return {
            "kind": "generation",
            "code": self.code,
            "status": self.status,
            "status_label": self.get_status_display(),
            "stage": self.stage,
            "stage_text": self.stage_text(position, mean_run),
            "step": self.step,
            "total": self.total_steps,
            "shot": self.shot,
            "shots": self.shots,
            "percent": self.percent,
            "error": self.error,
            "preview": preview,
        }

    def media_url(self, variant: str) -> str:
        return reverse("generation:media", args=[self.code, variant])

    def preview_url(self) -> str:
        # The query string changes with every preview so browsers don't show a cached one.
        return f"{self.media_url('preview')}?s={self.shot}-{self.step}"

    def shot_list(self) -> list[dict]:
        if self.storyboard:
            return self.storyboard
        return [{"prompt": self.prompt, "seconds": self.seconds}]

    def delete_files(self) -> None:
        """Delete the draft's and its export's files from storage once the caller's transaction
        commits (at once outside one): a rolled-back deletion must find its files still there."""
        fields = []
        for _receiver, kept in generation_files.send(sender=Generation, generation=self):
            fields += kept
        fields += [self.video, self.poster, self.sprite, self.preview, self.source_image, self.check_frames]
        delete_on_commit(fields)


def delete_on_commit(fields) -> None:
    """Delete these stored files (FieldFile or None) once the current transaction commits."""
    doomed = [(field.storage, field.name) for field in fields if field]

    def delete() -> None:
        for storage, name in doomed:
            storage.delete(name)

    transaction.on_commit(delete)


def running_job_heartbeats(job_ids: set[str]) -> dict[str, datetime]:
    """{RQ job id: last heartbeat} of the running generations among these jobs: the admin's
    Workers page judges a worker busy with a generation by the job's own beat."""
    return dict(
        Generation.objects.filter(rq_job_id__in=job_ids, status=Generation.Status.RUNNING).values_list(
            "rq_job_id", "heartbeat"
        )
    )


def mean_run_seconds() -> float | None:
    """Mean run time of the 20 most recent successful jobs (one query); None without history."""
    recent = list(
        Generation.objects.filter(status=Generation.Status.SUCCEEDED, started__isnull=False)
        .order_by("-finished")
        .values_list("started", "finished")[:20]
    )
    if not recent:
        return None
    return sum((f - s).total_seconds() for s, f in recent) / len(recent)


def estimate_wait_seconds(position: int | None, mean_run=UNKNOWN) -> int | None:
    """ETA from the mean run time of recent successful jobs; None without history.

    Pass `mean_run` (`mean_run_seconds()`, None included) when estimating many positions at once:
    otherwise each call costs a query."""
    if not position:
        return None
    mean = mean_run_seconds() if mean_run is UNKNOWN else mean_run
    if mean is None:
        return None
    return int(mean * position)
