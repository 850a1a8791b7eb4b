"""What the API adds to a generation: extensions, whose delivered video is the source and the new
segment stitched together; and webhook endpoints with their deliveries."""

import base64
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from generation.models import Generation


def stitched_upload_path(instance: "Extension", filename: str) -> str:
    # Beside the generation's own files, under the same private prefix that is never served directly.
    return f"private/generations/{instance.generation.code}/{filename}"


class Extension(models.Model):
    """`generation` continues its source from the source's last frame (`POST /v1/videos/extensions`).

    The row generates only the new segment (`generation.seconds`); the API reports and delivers the
    source followed by that segment, so its length is `source_seconds + generation.seconds`.
    """

    generation = models.OneToOneField(Generation, on_delete=models.CASCADE, related_name="api_extension")
    # The source's delivered length when it was extended (itself a total when the source is an
    # extension), kept so the total stays right after the source is deleted.
    source_seconds = models.PositiveSmallIntegerField()
    # Made from the source's delivered video and this segment on the first download, then reused.
    video = models.FileField(upload_to=stitched_upload_path, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(source_seconds__gt=0), name="api_extension_source_seconds_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"extension {self.generation.code} (+{self.source_seconds} s of source)"

    @property
    def total_seconds(self) -> int:
        return self.source_seconds + self.generation.seconds


def new_webhook_secret() -> str:
    # Standard Webhooks secrets: "whsec_" + base64 of 32 random bytes (the key the HMAC uses).
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class WebhookEndpoint(models.Model):
    """A URL of the owner's that receives signed `video.*` events about their videos.

    The secret is shown once, when the endpoint is added; it is stored because every delivery is
    signed with it (Standard Webhooks: HMAC-SHA256 of `id.timestamp.body`).
    """

    class Event(models.TextChoices):
        COMPLETED = "video.completed", "video.completed"
        FAILED = "video.failed", "video.failed"
        CANCELLED = "video.cancelled", "video.cancelled"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=100, default=new_webhook_secret, editable=False)
    event_types = models.JSONField(default=list, help_text="The video.* events sent to this URL.")
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # The tokens page and emit_video_event: one owner's endpoints.
            models.Index(fields=["owner", "created"], name="api_webhook_owner_created_idx"),
        ]

    def __str__(self) -> str:
        return self.url

    @property
    def secret_hint(self) -> str:
        return f"{self.secret[:9]}…{self.secret[-4:]}"


class WebhookDelivery(models.Model):
    """One event on its way to one endpoint: the exact signed body, and how sending it went.

    A delivery is tried at once, then again with exponential back-off (`next_attempt`, driven by
    the sweeper) until it succeeds or `WEBHOOK_RETRY_HOURS` have passed since it was made.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Gave up"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=40, unique=True)
    event_type = models.CharField(max_length=40)
    # The JSON body exactly as signed and sent, so every retry sends the same bytes.
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    next_attempt = models.DateTimeField(default=timezone.now)
    # When the current attempt was claimed; a SENDING row older than the send timeout was lost.
    claimed = models.DateTimeField(null=True, blank=True)
    # When a job for it was last put on the queue, so the sweeper enqueues each attempt once.
    enqueued = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)
    delivered = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        indexes = [
            # The delivery log on the tokens page: an endpoint's deliveries newest first.
            models.Index(fields=["endpoint", "-created"], name="api_delivery_endpoint_idx"),
            # The sweeper: pending deliveries that are due, and sends that were lost.
            models.Index(fields=["status", "next_attempt"], name="api_delivery_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} → {self.endpoint_id} ({self.status})"
