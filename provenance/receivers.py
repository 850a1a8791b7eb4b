"""Provenance's part in what generation (below it) does, connected from ProvenanceConfig.ready()."""

from generation.signals import generation_files
from provenance.actions import exported_file


def export_files(sender, generation, **kwargs) -> list:
    """A draft's export goes with the draft's own files."""
    return [exported_file(generation)]


def connect() -> None:
    generation_files.connect(export_files, dispatch_uid="provenance.export_files")
