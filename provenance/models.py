from django.db import models
from django.utils import timezone


def export_upload_path(instance: "Export", filename: str) -> str:
    return f"exports/{instance.generation.code}/{filename}"


class Export(models.Model):
    """The export rendition of a generation: moving watermark, tracking mark, signed C2PA.

    Made once (at posting, download or API content) and served instead of the unmarked original,
    which stays private to its owner and staff.
    """

    generation = models.OneToOneField(
        "generation.Generation", on_delete=models.CASCADE, related_name="export"
    )
    # 63 random bits: unguessable, and fits PostgreSQL's signed bigint.
    tracking_id = models.BigIntegerField(unique=True)
    file = models.FileField(upload_to=export_upload_path)
    fingerprint = models.BinaryField()
    manifest_label = models.CharField(max_length=200, blank=True)
    public_url = models.CharField(max_length=300, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    duration = models.FloatField(default=0)
    created = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"export of {self.generation.code}"
