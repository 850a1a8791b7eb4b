"""Media on S3-compatible object storage (MEDIA_STORAGE=s3), against a real S3 API server.

The draft, its poster, the export rendition, the permission-checked media views (with Range
requests), signed redirects and the personal data export all go through the storage API; nothing
is read from a local path the storage doesn't have.
"""

import io
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.files import File
from django.core.files.base import ContentFile
from django.urls import reverse

from generation.serving import local_path
from moderation.userdata import write_export
from provenance.actions import ensure_export
from provenance.c2pa_manifest import read_manifest
from tests.conftest import queued_generation
from tests.provenance.synthetic import write_clip

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", 5, seconds=2, width=320, height=192)


@pytest.fixture
def draft(make_user, s3_media, clip):
    """A succeeded draft whose video (a real 2 s clip with sound) and poster are in the bucket."""
    owner = make_user("maker")
    generation = queued_generation(
        owner, prompt="clouds over a valley", seconds=2, seed=1, status="succeeded", check_status="passed",
        model_id="/models/tiny-ltx2",
    )  # fmt: skip
    with open(clip, "rb") as fh:
        generation.video.save("video.mp4", File(fh), save=False)
    generation.poster.save("poster.jpg", ContentFile(b"\xff\xd8poster\xff\xd9"), save=False)
    generation.save()
    return generation, clip.read_bytes()


def keys(client, bucket) -> set[str]:
    return {item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", [])}


def test_files_are_private_objects_in_the_bucket(draft, s3_media, s3_server):
    generation, data = draft
    client, bucket = s3_media
    assert {generation.video.name, generation.poster.name} <= keys(client, bucket)
    assert client.get_object(Bucket=bucket, Key=generation.video.name)["Body"].read() == data
    grants = client.get_object_acl(Bucket=bucket, Key=generation.video.name)["Grants"]
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]  # the owner only, no public-read
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{s3_server}/{bucket}/{generation.video.name}", timeout=5)
    assert refused.value.code == 403
    with pytest.raises(NotImplementedError):
        generation.video.path  # noqa: B018 - no local file exists for code to lean on


def test_media_view_streams_whole_files_and_ranges_from_the_bucket(draft, client, make_user):
    generation, data = draft
    client.force_login(generation.owner)
    url = reverse("generation:media", args=[generation.code, "video"])

    whole = client.get(url)
    assert whole.status_code == 200 and whole["Content-Length"] == str(len(data))
    assert b"".join(whole.streaming_content) == data

    part = client.get(url, headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 100-1099/{len(data)}"
    assert b"".join(part.streaming_content) == data[100:1100]
    tail = client.get(url, headers={"Range": "bytes=-500"})
    assert b"".join(tail.streaming_content) == data[-500:]

    client.force_login(make_user("stranger"))
    assert client.get(url).status_code == 404


def test_signed_urls_are_short_lived_and_only_after_the_check(draft, client, make_user, settings):
    settings.MEDIA_SIGNED_URLS = True
    generation, data = draft
    client.force_login(generation.owner)

    response = client.get(reverse("generation:media", args=[generation.code, "video"]))
    assert response.status_code == 302 and response["Cache-Control"] == "private, no-store"
    query = parse_qs(urlparse(response["Location"]).query)
    assert "X-Amz-Signature" in query and int(query["X-Amz-Expires"][0]) <= 300
    with urllib.request.urlopen(response["Location"], timeout=5) as signed:
        assert signed.read() == data

    client.force_login(make_user("stranger"))
    assert client.get(reverse("generation:media", args=[generation.code, "video"])).status_code == 404


def test_export_reads_the_draft_from_the_bucket_and_stores_a_signed_copy(draft, client, s3_media, tmp_path):
    generation, _ = draft
    client_s3, bucket = s3_media

    export = ensure_export(generation)

    assert export.file.name in keys(client_s3, bucket)
    client.force_login(generation.owner)
    response = client.get(reverse("provenance:download", args=[generation.code]))
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    exported = b"".join(response.streaming_content)
    from django.conf import settings

    manifest = read_manifest(exported, trust_anchors_pem=Path(settings.C2PA_TRUST_ANCHORS).read_bytes())
    assert manifest["validation_state"] == "Trusted"
    assert int(manifest["soft_binding"]["tracking_id"]) == export.tracking_id


def test_local_path_is_a_temporary_copy_removed_afterwards(draft):
    generation, data = draft
    with local_path(generation.video) as path:
        assert Path(path).read_bytes() == data
    assert not Path(path).exists()


def test_personal_data_export_includes_files_from_the_bucket(draft):
    generation, data = draft
    archive = io.BytesIO()
    write_export(generation.owner, archive)
    with zipfile.ZipFile(archive) as zipped:
        assert zipped.read(f"media/{generation.video.name}") == data
