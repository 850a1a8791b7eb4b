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


class FingerprintHash(models.Model):
    """One frame hash of an export's fingerprint, indexed for lookups (multi-index hashing).

    The 64-bit hash is split into four 16-bit bands, each an indexed column: two hashes within
    Hamming distance 3 share at least one band exactly, and copies of a video share a band on
    some of their frames, so a lookup fetches the rows sharing a band with any query hash (an
    index probe per band value, not a scan) and checks the full distance in Python. See
    provenance.index.
    """

    export = models.ForeignKey(Export, on_delete=models.CASCADE, related_name="hashes")
    value = models.BigIntegerField()  # the hash as a signed 64-bit integer
    band0 = models.IntegerField()
    band1 = models.IntegerField()
    band2 = models.IntegerField()
    band3 = models.IntegerField()

    class Meta:
        # One index per band that also holds what a lookup reads (value, export), so each band's
        # probe is an index-only scan: the rows it finds are scattered over the whole table, and
        # fetching them from the table costs a random page read each.
        indexes = [
            models.Index(fields=[f"band{i}", "value", "export"], name=f"provenance_fph_band{i}")
            for i in range(4)
        ]

    def __str__(self) -> str:
        return f"hash {self.value & (2**64 - 1):016x} of export {self.export_id}"
