"""Exports read their source through the storage API, and a broken consent ledger fails them."""

import os

import pytest
from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage

from provenance.actions import consent_entry_ids, ensure_export
from provenance.c2pa_manifest import read_manifest
from provenance.models import Export
from tests.provenance.test_site import finished, signing  # noqa: F401 (fixtures)


class RemoteLikeStorage(FileSystemStorage):
    """Files without local paths, as on object storage."""

    def path(self, name):
        raise NotImplementedError("This backend doesn't support absolute paths.")

    def _open(self, name, mode="rb"):
        return File(open(os.path.join(self.location, name), mode))  # noqa: SIM115 (closed by File)


@pytest.mark.django_db
def test_a_draft_on_storage_without_local_paths_exports(signing, finished):  # noqa: F811
    finished.video.storage = RemoteLikeStorage(location=settings.MEDIA_ROOT)
    export = ensure_export(finished)
    manifest = read_manifest(export.file.path, trust_anchors_pem=signing.root.read_bytes())
    assert manifest["validation_state"] == "Trusted"


@pytest.mark.django_db
def test_a_broken_ledger_fails_the_export_instead_of_omitting_consent(signing, finished, monkeypatch):  # noqa: F811
    """The ledger is imported at module top (cameos sits below provenance); an error reading it
    must stop the export, never sign a manifest that silently leaves the consent out."""

    def broken(generation):
        raise ImportError("the ledger can't be read")

    monkeypatch.setattr("provenance.actions.consent_ids_for_generation", broken)
    with pytest.raises(ImportError):
        consent_entry_ids(finished)
    with pytest.raises(ImportError):
        ensure_export(finished)
    assert not Export.objects.filter(generation=finished).exists()
