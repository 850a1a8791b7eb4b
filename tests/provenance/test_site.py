"""Provenance on the site: exports of drafts, the public /verify page and the staff commands."""

import io
import json
import shutil
from pathlib import Path

import pytest
from django.core.files import File
from django.core.management import CommandError, call_command
from django.urls import reverse

from provenance.actions import ExportFailed, ensure_export
from provenance.c2pa_manifest import read_manifest
from provenance.models import Export
from tests.conftest import queued_generation
from tests.provenance.synthetic import transform


@pytest.fixture
def signing(settings, certs):
    settings.C2PA_SIGNING_KEY = str(certs.key)
    settings.C2PA_CERT_CHAIN = str(certs.chain)
    settings.C2PA_TRUST_ANCHORS = str(certs.root)
    return certs


@pytest.fixture
def finished(make_user, make_clip):
    """A succeeded draft whose video is a real 3 s 640×360 clip with sound."""
    owner = make_user("maker")
    generation = queued_generation(
        owner, prompt="clouds over a valley", seconds=3, seed=1, status="succeeded", check_status="passed",
        model_id="/models/tiny-ltx2",
    )  # fmt: skip
    with open(make_clip(11, seconds=3, width=640, height=360), "rb") as fh:
        generation.video.save("video.mp4", File(fh), save=True)
    return generation


def upload(path, name="clip.mp4"):
    data = io.BytesIO(path.read_bytes() if hasattr(path, "read_bytes") else path)
    data.name = name
    return data


@pytest.mark.django_db
def test_export_is_signed_marked_and_made_once(signing, finished):
    export = ensure_export(finished)
    assert Export.objects.get(generation=finished) == export
    manifest = read_manifest(export.file.path, trust_anchors_pem=signing.root.read_bytes())
    assert manifest["validation_state"] == "Trusted"
    assert "trainedAlgorithmicMedia" in manifest["digital_source_type"]
    assert int(manifest["soft_binding"]["tracking_id"]) == export.tracking_id
    assert ensure_export(finished).pk == export.pk  # stored, not made again


@pytest.mark.django_db
def test_verify_page_recognises_an_export_and_a_stripped_copy(client, signing, finished, tmp_path):
    export = ensure_export(finished)
    response = client.post(reverse("provenance:verify"), {"video": upload(Path(export.file.path))})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Trusted" in body
    assert "Made on this site, but not public." in body  # a draft, not a post

    stripped = transform(export.file.path, tmp_path / "stripped.mp4", crf=28, height=240, crop=0.05)
    body = client.post(reverse("provenance:verify"), {"video": upload(stripped)}).content.decode()
    assert "Made on this site" in body
    assert "Present: no" in body  # the re-encode dropped the manifest


@pytest.mark.django_db
def test_verify_page_does_not_claim_foreign_videos(client, signing, finished, make_clip):
    ensure_export(finished)
    foreign = make_clip(99, seconds=3, width=640, height=360)
    body = client.post(reverse("provenance:verify"), {"video": upload(foreign)}).content.decode()
    assert "We found no sign that this video was made on this site." in body


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content, name, message",
    [
        (b"", "empty.mp4", "empty"),
        (b"just some text, not a video" * 10, "notes.mp4", "video"),
        (b"\x89PNG\r\n\x1a\n" + b"0" * 200, "image.webm", "video"),
    ],
)
def test_verify_page_refuses_files_that_are_not_video(client, signing, content, name, message):
    response = client.post(reverse("provenance:verify"), {"video": upload(content, name)})
    assert response.status_code == 400
    assert message in response.content.decode().lower()


@pytest.mark.django_db
def test_verify_page_refuses_files_over_the_size_limit(client, signing, settings):
    settings.VERIFY_MAX_BYTES = 1000
    response = client.post(reverse("provenance:verify"), {"video": upload(b"0" * 2000)})
    assert response.status_code == 400 and "too large" in response.content.decode()


@pytest.mark.django_db
def test_storage_failure_at_export_is_a_clear_error_and_leaves_the_draft(signing, finished, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Export.file.field.storage, "save", disk_full)
    with pytest.raises(ExportFailed, match="storage"):
        ensure_export(finished)
    assert not Export.objects.exists()
    finished.refresh_from_db()
    assert finished.video and finished.status == "succeeded"


@pytest.mark.django_db
def test_export_without_a_certificate_says_sharing_is_unavailable(settings, finished, tmp_path):
    settings.C2PA_SIGNING_KEY = str(tmp_path / "missing.key")
    with pytest.raises(ExportFailed, match="signing certificate"):
        ensure_export(finished)


@pytest.mark.django_db
def test_verify_video_command_prints_the_verdict_as_json(signing, finished):
    export = ensure_export(finished)
    out = io.StringIO()
    call_command("verify_video", export.file.path, stdout=out)
    report = json.loads(out.getvalue())
    assert report["c2pa"]["validation_state"] == "Trusted"
    assert report["site"]["made_here"] is True
    with pytest.raises(CommandError):
        call_command("verify_video", "/no/such/file.mp4", stdout=io.StringIO())


def test_make_signing_cert_command(tmp_path):
    out = io.StringIO()
    call_command("make_signing_cert", "--dir", str(tmp_path), stdout=out)
    assert (tmp_path / "c2pa-signer.key").exists() and "C2PA_CERT_CHAIN=" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("make_signing_cert", "--dir", str(tmp_path), stdout=io.StringIO())
    call_command("make_signing_cert", "--dir", str(tmp_path), "--force", stdout=io.StringIO())
    shutil.rmtree(tmp_path)


@pytest.mark.django_db
def test_a_public_post_publishes_an_export_whose_manifest_names_the_post(signing, finished, settings):
    from feed.actions import publish_post

    post = publish_post(finished, caption="valley", visibility="public")
    manifest = read_manifest(finished.export.file.path, trust_anchors_pem=signing.root.read_bytes())
    assert manifest["post"]["url"] == settings.SITE_URL + post.get_absolute_url()
    assert manifest["validation_state"] == "Trusted"
