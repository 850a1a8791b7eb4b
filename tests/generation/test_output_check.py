"""Output moderation on inputs the tests make: Pillow/numpy frames and flite speech."""

import numpy as np
import pytest

from generation.jobs import run_generation
from moderation.output_check import BLOCKED, PASSED, REVIEW, check_output
from tests.conftest import post_of, queued_generation
from tests.media_factory import portrait_image, speech_samples

FPS = 24


def plain_frames(seconds: float = 2.0, size=(192, 320)) -> np.ndarray:
    count = int(seconds * FPS)
    ramp = np.linspace(40, 200, size[0], dtype=np.uint8)
    frame = np.stack([np.tile(ramp, (size[1], 1))] * 3, axis=2)
    return np.repeat(frame[None], count, axis=0)


def photo_frames(seconds: float = 1.0) -> np.ndarray:
    image = np.asarray(portrait_image().resize((384, 448)))
    return np.repeat(image[None], int(seconds * FPS), axis=0)


def with_speech(text: str) -> tuple[np.ndarray, int]:
    speech = speech_samples(text, sample_rate=24000)
    stereo = np.stack([speech, speech]).astype(np.float32)
    return stereo, 24000


def test_a_clean_clip_passes():
    audio, rate = with_speech("a cat is playing the piano in the rain")
    result = check_output(plain_frames(), FPS, audio, rate)
    assert result.outcome == PASSED, result.reason
    assert "piano" in result.scores["audio"]["transcript"]


def test_a_clip_whose_audio_says_a_blocked_phrase_is_blocked_with_the_reason():
    audio, rate = with_speech("listen to me. I will kill you tonight.")
    result = check_output(plain_frames(), FPS, audio, rate)
    assert result.outcome == BLOCKED
    assert result.category == "speech"
    assert "kill" in result.reason


def test_a_cameo_owners_restricted_words_are_blocked_in_speech():
    audio, rate = with_speech("vote for the election tomorrow")
    assert check_output(plain_frames(), FPS, audio, rate).outcome == PASSED
    result = check_output(plain_frames(), FPS, audio, rate, spoken_phrases=["election"])
    assert result.outcome == BLOCKED and "election" in result.reason


def test_a_score_above_the_review_threshold_goes_to_review_with_the_top_frames(settings):
    # A clothed portrait scores ~0.004 on the explicit classes, flat colour ~0.0003.
    settings.OUTPUT_NUDITY_REVIEW = 0.002
    assert check_output(plain_frames(1), FPS, None, None).outcome == PASSED
    result = check_output(photo_frames(), FPS, None, None)
    assert result.outcome == REVIEW and result.category == "sexual"
    assert result.scores["nudity"]["max"] > 0.002
    assert result.top_frames and result.top_frames[0][:2] == b"\xff\xd8"


def test_thresholds_are_stricter_for_a_real_person_or_a_teen(settings):
    score = check_output(photo_frames(), FPS, None, None).scores["nudity"]["max"]
    settings.OUTPUT_NUDITY_REVIEW = score * 1.2  # just above the portrait's own score
    assert check_output(photo_frames(), FPS, None, None).outcome == PASSED
    assert check_output(photo_frames(), FPS, None, None, teen=True).outcome == REVIEW
    assert check_output(photo_frames(), FPS, None, None, real_person=True).outcome == REVIEW


def test_a_face_matching_a_cameo_the_author_may_not_use_is_blocked():
    from cameos.liveness import face_embeddings_in_frames

    frames = photo_frames(0.5)
    reference = face_embeddings_in_frames([frames[0]])[0]
    result = check_output(frames, FPS, None, None, forbidden_faces=[("cameo:grace", reference)])
    assert result.outcome == BLOCKED and result.category == "likeness"
    other = list(np.asarray(reference) + 0.5)
    assert check_output(frames, FPS, None, None, forbidden_faces=[("cameo:other", other)]).outcome == PASSED


@pytest.mark.django_db
def test_every_job_is_checked_and_records_the_outcome(tiny_model, user):
    generation = queued_generation(user, seconds=2)
    run_generation(generation.pk)
    generation.refresh_from_db()
    assert generation.check_status == "passed"
    assert generation.is_shareable
    assert generation.timings["check_s"] > 0
    assert "nudity" in generation.check_scores and "audio" in generation.check_scores


@pytest.mark.django_db
def test_a_report_rechecks_the_post_with_current_rules(
    user, other_user, settings, tmp_path, django_capture_on_commit_callbacks
):
    import django_rq
    from django.core.files import File

    from generation import media
    from generation.jobs import recheck_output
    from moderation.actions import file_report

    generation = queued_generation(user, status="succeeded", check_status="passed")
    frames = photo_frames(1.0)
    media.write_mp4(tmp_path / "v.mp4", frames, FPS, np.zeros((2, 24000), np.float32), 24000)
    with open(tmp_path / "v.mp4", "rb") as fh:
        generation.video.save("video.mp4", File(fh), save=True)
    post = post_of(generation)

    queue = django_rq.get_queue(settings.CPU_QUEUE)
    queue.empty()
    with django_capture_on_commit_callbacks(execute=True):
        file_report(other_user, post, "sexual", "not ok")
    assert [job.func_name for job in queue.jobs] == ["generation.jobs.recheck_output"]
    queue.empty()

    # Rules tightened since the video was made: the re-check sends it to review and hides it.
    settings.OUTPUT_NUDITY_REVIEW = 0.002
    assert recheck_output(generation.pk) == "review"
    post.refresh_from_db()
    generation.refresh_from_db()
    assert post.hidden and generation.check_status == "review"
    assert not generation.is_shareable


@pytest.mark.django_db
def test_a_blocked_draft_cannot_be_posted_shared_or_fetched(client, user, other_user, tmp_path):
    from django.core.files import File
    from django.urls import reverse

    from accounts.models import ApiToken
    from feed.actions import PostRefused, publish_post
    from generation import media

    generation = queued_generation(
        user, status="succeeded", check_status="blocked", check_category="speech", check_reason="Threat."
    )
    media.write_mp4(tmp_path / "v.mp4", plain_frames(1), FPS, np.zeros((2, 24000), np.float32), 24000)
    with open(tmp_path / "v.mp4", "rb") as fh:
        generation.video.save("video.mp4", File(fh), save=True)

    with pytest.raises(PostRefused, match="Threat"):
        publish_post(generation)
    client.force_login(other_user)
    for variant in ("video", "poster"):
        assert client.get(reverse("generation:media", args=[generation.code, variant])).status_code == 404
    client.force_login(user)
    assert client.get(reverse("provenance:download", args=[generation.code])).status_code == 302
    token = ApiToken.issue(user, "t")[1]
    response = client.get(
        f"/v1/videos/video_{generation.code}/content", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 409 and "content check" in response.json()["error"]["message"]
