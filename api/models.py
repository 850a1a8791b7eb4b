"""What the API adds to a generation: extensions, whose delivered video is the source and the new
segment stitched together."""

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
