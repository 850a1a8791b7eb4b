"""Creating a cameo: challenges, uploads and the analysis job, on real recordings made by the tests.

The job is called directly (as the CPU worker would) on the test's database; its verdict events go
through the real Redis channel layer.
"""

import asyncio
import os
import re
from datetime import timedelta
from fractions import Fraction

import av
import django_rq
import numpy as np
import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image, ImageDraw

from cameos import jobs
from cameos.jobs import HUMAN_FACE_REASON
from cameos.ledger import verify_chain
from cameos.models import Cameo, CameoMedia, Challenge, LedgerEntry
from tests import media_factory
from tests.conftest import make_cameo, make_challenge


def upload(client, challenge, path_or_bytes, name="recording.webm", json=True):
    data = path_or_bytes.read_bytes() if hasattr(path_or_bytes, "read_bytes") else path_or_bytes
    headers = {"Accept": "application/json"} if json else {}
    return client.post(
        reverse("cameos:upload"),
        {
            "challenge": challenge.nonce,
            "recording": SimpleUploadedFile(name, data, content_type="video/webm"),
        },
        headers=headers,
    )


def cameo_files() -> set[str]:
    root = os.path.join(settings.MEDIA_ROOT, "private", "cameos")
    return {os.path.join(d, f) for d, _, files in os.walk(root) for f in files}


@pytest.fixture
def new_files():
    """new_files() -> cameo files written to storage since the test started."""
    before = cameo_files()
    return lambda: cameo_files() - before


def nothing_stored(challenge) -> bool:
    challenge.refresh_from_db()
    return (
        not Cameo.objects.filter(owner=challenge.owner).exists()
        and not CameoMedia.objects.exists()
        and challenge.used is None
    )


@pytest.fixture
def cpu_queue():
    queue = django_rq.get_queue(settings.CPU_QUEUE)
    queue.empty()
    yield queue
    queue.empty()


class Events:
    """The events published to one user's group, read from the real channel layer."""

    def __init__(self, user_id: int):
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(f"user.{user_id}", self.channel)

    def next(self, timeout: float = 10) -> dict:
        async def receive():
            return await asyncio.wait_for(self.layer.receive(self.channel), timeout)

        return async_to_sync(receive)()["event"]


# --- challenges -----------------------------------------------------------------------------


def test_challenge_is_issued_as_json_for_the_recorder(client, user):
    client.force_login(user)

    response = client.post(reverse("cameos:challenge"), headers={"Accept": "application/json"})

    assert response.status_code == 201
    body = response.json()
    challenge = Challenge.objects.get(nonce=body["nonce"], owner=user)
    assert len(body["digits"]) == 4 and body["spoken"] == " ".join(body["digits"])
    assert sorted(body["turns"]) == ["left", "right"]
    assert 290 <= body["expires_in"] <= 300
    assert challenge.expires - challenge.created == timedelta(seconds=settings.CAMEO_CHALLENGE_TTL_SECONDS)
    assert challenge.used is None


def test_challenges_are_random_and_single(client, user):
    client.force_login(user)
    nonces = {client.post(reverse("cameos:challenge")).url for _ in range(3)}

    assert len(nonces) == 3


def test_without_javascript_the_challenge_shows_beside_an_upload_form(client, user):
    client.force_login(user)

    response = client.post(reverse("cameos:challenge"), follow=True)

    challenge = Challenge.objects.get(owner=user)
    page = response.content.decode()
    assert " ".join(challenge.digits) in page and challenge.nonce in page


def test_no_challenge_while_a_verified_cameo_exists(client, user):
    make_cameo(user)
    client.force_login(user)

    response = client.post(reverse("cameos:challenge"), headers={"Accept": "application/json"})

    assert response.status_code == 409 and "already have a verified cameo" in response.json()["error"]


# --- uploads --------------------------------------------------------------------------------


def test_upload_stores_the_recording_privately_and_queues_the_check(
    client, user, liveness_clip, cpu_queue, django_capture_on_commit_callbacks
):
    challenge = make_challenge(user)
    client.force_login(user)

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, challenge, liveness_clip("good"))

    assert response.status_code == 202
    event = response.json()
    cameo = Cameo.objects.get(code=event["code"])
    assert (event["kind"], event["status"]) == ("cameo", "pending")
    assert cameo.owner == user and cameo.challenge == challenge and cameo.kind == "person"
    recording = CameoMedia.objects.get(cameo=cameo, role="recording")
    assert recording.file.name.startswith(f"private/cameos/{cameo.code}/") and recording.file.name.endswith(
        ".webm"
    )
    challenge.refresh_from_db()
    assert challenge.used is not None
    [job] = cpu_queue.get_jobs()
    assert job.func_name == "cameos.jobs.analyse_cameo" and job.args == (cameo.pk,)


def test_a_used_challenge_is_refused(client, user, liveness_clip):
    challenge = make_challenge(user)
    client.force_login(user)
    assert upload(client, challenge, liveness_clip("good")).status_code == 202
    Cameo.objects.update(status=Cameo.Status.REJECTED)  # even once that attempt is over

    response = upload(client, challenge, liveness_clip("good"))

    assert response.status_code == 400
    assert response.json()["error"] == "This challenge was already used. Start again to get a new one."
    assert Cameo.objects.count() == 1


def test_an_expired_challenge_is_refused_and_nothing_is_stored(client, user, liveness_clip):
    challenge = make_challenge(user, age_seconds=400)
    client.force_login(user)

    response = upload(client, challenge, liveness_clip("good"))

    assert response.status_code == 400
    assert response.json()["error"].startswith("This challenge expired")
    assert nothing_stored(challenge)


def test_someone_elses_challenge_is_refused(client, user, other_user, liveness_clip):
    challenge = make_challenge(other_user)
    client.force_login(user)

    response = upload(client, challenge, liveness_clip("good"))

    assert response.status_code == 400 and "isn't valid" in response.json()["error"]
    assert not Cameo.objects.exists()


def silent_film(path) -> bytes:
    """A real WebM with video and no sound track."""
    with av.open(str(path), "w", format="webm") as out:
        stream = out.add_stream("libvpx", rate=15)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(15):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 10, np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 15)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path.read_bytes()


@pytest.fixture(scope="module")
def junk(tmp_path_factory):
    folder = tmp_path_factory.mktemp("junk")
    files = {name: path.read_bytes() for name, path in media_factory.junk_files(folder).items()}
    files["no_sound"] = silent_film(folder / "silent.webm")
    return files


@pytest.mark.parametrize(
    "kind, message",
    [
        ("empty", "The file is empty."),
        ("text", "We could not read this file as a video."),
        ("random", "We could not read this file as a video."),
        ("png", "This file is not a video recording. Please upload a WebM or MP4 video."),
        ("no_sound", "The recording has no sound. Please allow microphone access and record again."),
    ],
)
def test_bad_uploads_get_a_clear_error_and_nothing_is_stored(client, user, junk, new_files, kind, message):
    challenge = make_challenge(user)
    client.force_login(user)

    response = upload(client, challenge, junk[kind])

    assert response.status_code == 400
    assert response.json()["error"].startswith(message)
    assert nothing_stored(challenge)
    assert new_files() == set()


def test_huge_upload_is_refused_before_anything_is_stored(client, user, liveness_clip, settings):
    settings.CAMEO_MAX_UPLOAD_BYTES = 20_000
    challenge = make_challenge(user)
    client.force_login(user)

    response = upload(client, challenge, liveness_clip("good"))

    assert response.status_code == 413
    assert "too large" in response.json()["error"]
    assert nothing_stored(challenge)


def test_upload_without_javascript_redirects_to_the_cameo_or_shows_the_error(
    client, user, liveness_clip, junk
):
    challenge = make_challenge(user)
    client.force_login(user)

    refused = upload(client, challenge, junk["text"], json=False)
    assert refused.status_code == 400 and "We could not read this file" in refused.content.decode()

    accepted = upload(client, challenge, liveness_clip("good"), json=False)
    assert accepted.status_code == 302
    assert accepted["Location"] == Cameo.objects.get(owner=user).get_absolute_url()


# --- the analysis job -----------------------------------------------------------------------


def submitted(client, user, clip, **challenge_fields) -> Cameo:
    challenge = make_challenge(user, **challenge_fields)
    client.force_login(user)
    response = upload(client, challenge, clip)
    assert response.status_code == 202, response.content
    return Cameo.objects.get(code=response.json()["code"])


def test_right_challenge_is_verified_with_private_reference_media(client, user, liveness_clip):
    cameo = submitted(client, user, liveness_clip("good"))
    events = Events(user.pk)

    assert jobs.analyse_cameo(cameo.pk) == "verified"

    cameo.refresh_from_db()
    assert cameo.status == Cameo.Status.ACTIVE and cameo.verified and cameo.reasons == []
    assert cameo.permission == Cameo.Permission.ONLY_ME
    assert len(cameo.voice_embedding) == 256 and len(cameo.face_embedding) == 128
    roles = list(CameoMedia.objects.filter(cameo=cameo).values_list("role", flat=True))
    assert roles.count("recording") == 1 and roles.count("voice") == 1 and 1 <= roles.count("reference") <= 3
    reference = CameoMedia.objects.filter(cameo=cameo, role="reference").first()
    assert Image.open(reference.file.path).format == "JPEG"
    assert cameo.checks["speech"]["transcript"] == "4 7 1 9"
    assert LedgerEntry.objects.get(cameo=cameo).kind == LedgerEntry.Kind.CREATED
    assert verify_chain(cameo) == (True, None)
    assert [events.next()["status"], events.next()["status"]] == ["checking", "active"]
    assert jobs.analyse_cameo(cameo.pk) == "not claimed"  # a job runs once


@pytest.mark.parametrize(
    "clip, options, reason",
    [
        ("wrong_digits", {"digits": "4718"}, "The numbers we heard (4 7 1 8) are not the ones shown"),
        ("silent", {"speech": False}, "We could not hear the numbers. Please read them aloud, clearly."),
        ("no_face", {"face": False}, "No face in most of the video."),
        ("static", {"turns": ()}, "We didn't see your head turn."),
    ],
)
def test_failed_checks_reject_with_reasons_and_erase_the_recording(
    client, user, liveness_clip, new_files, clip, options, reason
):
    cameo = submitted(client, user, liveness_clip(clip, **options))
    events = Events(user.pk)

    assert jobs.analyse_cameo(cameo.pk) == "rejected"

    cameo.refresh_from_db()
    assert cameo.status == Cameo.Status.REJECTED
    assert any(r.startswith(reason) for r in cameo.reasons), cameo.reasons
    assert not CameoMedia.objects.filter(cameo=cameo).exists() and new_files() == set()
    assert cameo.voice_embedding is None and cameo.face_embedding is None
    events.next()
    verdict = events.next()
    assert verdict["status"] == "rejected" and verdict["reasons"] == cameo.reasons
    page = client.get(cameo.get_absolute_url()).content.decode()
    assert 'data-testid="cameo-verdict"' in page and "Record again" in page
    # The person can try again at once.
    assert client.post(reverse("cameos:challenge")).status_code == 302


def test_a_clip_longer_than_its_challenge_is_old_is_not_fresh(client, user, liveness_clip):
    cameo = submitted(client, user, liveness_clip("good"), age_seconds=1)

    assert jobs.analyse_cameo(cameo.pk) == "rejected"

    cameo.refresh_from_db()
    assert cameo.reasons == [
        "The recording is longer than the time since the challenge was shown, so it wasn't made for "
        "this challenge. Please record again."
    ]


def test_a_recording_damaged_inside_is_rejected_by_the_job_and_erased(client, user, liveness_clip, new_files):
    data = liveness_clip("good").read_bytes()
    cameo = submitted(client, user, data[: len(data) // 2])

    assert jobs.analyse_cameo(cameo.pk) == "rejected"

    cameo.refresh_from_db()
    assert re.match(r"The recording (is too short|seems to be cut off|is damaged)", cameo.reasons[0]), (
        cameo.reasons
    )
    assert not CameoMedia.objects.filter(cameo=cameo).exists() and new_files() == set()


def test_a_cameo_deleted_while_being_checked_keeps_nothing(client, user, liveness_clip):
    from cameos.actions.controls import delete_cameo
    from cameos.actions.media import save_media
    from tests.conftest import jpeg

    cameo = submitted(client, user, liveness_clip("good"))
    jobs.claim(cameo.pk)
    delete_cameo(cameo, actor=user, keep_videos=False)
    # The job, unaware, stores what it found and tries to activate the cameo.
    save_media(cameo, CameoMedia.Role.REFERENCE, 0, "face.jpg", ContentFile(jpeg()))

    assert jobs._activate(cameo, checks={}) == "deleted"

    assert not CameoMedia.objects.filter(cameo=cameo).exists()
    assert Cameo.objects.get(pk=cameo.pk).status == Cameo.Status.DELETED


def test_stale_checks_do_not_lock_the_owner_out(client, user):
    cameo = Cameo.objects.create(owner=user, status=Cameo.Status.CHECKING)
    Cameo.objects.filter(pk=cameo.pk).update(created=timezone.now() - timedelta(hours=1))
    client.force_login(user)

    assert client.post(reverse("cameos:challenge")).status_code == 302
    cameo.refresh_from_db()
    assert cameo.status == Cameo.Status.REJECTED


# --- characters -----------------------------------------------------------------------------


def drawn_toy() -> bytes:
    import io

    image = Image.new("RGB", (480, 360), (214, 200, 170))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 250, 480, 360), fill=(120, 80, 40))
    draw.ellipse((170, 90, 320, 240), fill=(200, 30, 40), outline=(90, 10, 10), width=6)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def portrait() -> bytes:
    import io

    out = io.BytesIO()
    media_factory.portrait_image().save(out, format="JPEG")
    return out.getvalue()


def post_character(client, files, **fields):
    data = {"name": "Biscuit", "attest": "on", **fields}
    data["files"] = [SimpleUploadedFile(name, content) for name, content in files]
    return client.post(reverse("cameos:character"), data)


def test_character_from_pictures_with_attestation(client, user):
    client.force_login(user)

    response = post_character(client, [("ball.png", drawn_toy()), ("ball2.png", drawn_toy())])

    cameo = Cameo.objects.get(owner=user, kind="character")
    assert response.status_code == 302 and response["Location"] == cameo.get_absolute_url()
    assert cameo.name == "Biscuit" and cameo.attested and cameo.status == "pending"
    assert jobs.analyse_cameo(cameo.pk) == "verified"
    cameo.refresh_from_db()
    assert cameo.status == "active" and cameo.label == "Biscuit (@alice's character)"
    assert CameoMedia.objects.filter(cameo=cameo, role="reference").count() == 2
    assert CameoMedia.objects.filter(cameo=cameo, role="source").count() == 2
    assert LedgerEntry.objects.get(cameo=cameo).kind == "created"


def test_character_needs_a_name_and_the_attestation(client, user, new_files):
    client.force_login(user)

    assert post_character(client, [("ball.png", drawn_toy())], attest="").status_code == 400
    assert post_character(client, [("ball.png", drawn_toy())], name="").status_code == 400
    assert client.post(reverse("cameos:character")).status_code == 400
    assert not Cameo.objects.exists() and new_files() == set()


def test_character_from_unreadable_files_is_refused(client, user, junk, new_files):
    client.force_login(user)

    response = post_character(client, [("ball.png", drawn_toy()), ("notes.png", junk["text"])])

    assert response.status_code == 400
    assert "File 2 is not a picture or video we can read." in response.content.decode()
    assert not Cameo.objects.exists() and new_files() == set()


def test_a_person_cannot_be_a_character(client, user):
    client.force_login(user)
    post_character(client, [("me.jpg", portrait())])
    cameo = Cameo.objects.get(owner=user)

    assert jobs.analyse_cameo(cameo.pk) == "rejected"

    cameo.refresh_from_db()
    assert cameo.reasons == [HUMAN_FACE_REASON]
    assert not CameoMedia.objects.filter(cameo=cameo).exists()


def test_only_a_size_refusal_answers_413_whatever_the_wording(client, user, liveness_clip, monkeypatch):
    """The status comes from the kind of refusal, not from words in its message."""
    from cameos import errors
    from cameos.actions import recording

    def refuse(*args, **kwargs):
        raise errors.CameoRefused("Your list of cameos is too large to add another; delete one first.")

    monkeypatch.setattr(recording, "submit_recording", refuse)
    challenge = make_challenge(user)
    client.force_login(user)

    response = upload(client, challenge, liveness_clip("good"))

    assert response.status_code == 400
    assert "delete one first" in response.json()["error"]


def test_tiny_pictures_and_clips_are_refused_alike_on_the_web_and_the_api(client, user, new_files, tmp_path):
    """A 1×1 clip is as useless for references as a 1×1 picture: both are refused at once, before
    anything is stored, by the web form and by POST /v1/videos/characters."""
    import io

    from accounts.models import ApiToken
    from tests.reliability.conftest import write_recording

    clip = write_recording(tmp_path / "dot.webm", width=1, height=1, frames=8, audio=False)
    dot = io.BytesIO()
    Image.new("RGB", (1, 1), "orange").save(dot, "PNG")
    client.force_login(user)
    for name, content, what in (("dot.webm", clip, "clips"), ("dot.png", dot.getvalue(), "pictures")):
        response = post_character(client, [("ball.png", drawn_toy()), (name, content)])
        assert response.status_code == 400
        assert f"File 2 is too small (1×1); {what} must be at least 128 pixels" in response.content.decode()
    token = ApiToken.issue(user, "test")[1]
    answer = client.post(
        "/v1/videos/characters",
        {"name": "Dot", "video": SimpleUploadedFile("dot.webm", clip, "video/webm")},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 400 and "too small (1×1)" in answer.json()["error"]["message"]
    assert not Cameo.objects.exists() and new_files() == set()
