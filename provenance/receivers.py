"""Provenance's part in what generation (below it) does, connected from ProvenanceConfig.ready()."""

from django.dispatch import receiver

from cameos import signals
from cameos.models import Withdrawal
from generation.signals import generation_files
from provenance.actions import exported_file
from provenance.models import Export


@receiver(signals.withdrawal_recorded, dispatch_uid="provenance.withdrawal_recorded")
def add_tracking_id(sender, withdrawal: Withdrawal, **kwargs) -> None:
    """Keep the withdrawn video's tracking mark, so `/verify` of a copy downloaded earlier names
    the withdrawal."""
    tracking_id = (
        Export.objects.filter(generation=withdrawal.generation_id)
        .values_list("tracking_id", flat=True)
        .first()
    )
    if tracking_id is not None:
        Withdrawal.objects.filter(pk=withdrawal.pk).update(tracking_id=tracking_id)
        withdrawal.tracking_id = tracking_id


def export_files(sender, generation, **kwargs) -> list:
    """A draft's export goes with the draft's own files."""
    return [exported_file(generation)]


def connect() -> None:
    generation_files.connect(export_files, dispatch_uid="provenance.export_files")
