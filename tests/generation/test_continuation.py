"""Extensions continue several frames of motion, retakes redo a range between kept frames: tiny model."""

import numpy as np
import pytest

from generation.engine import GenerationRequest, Shot
from generation.engine.pipeline import Retake

STEPS = 2
SR = 24000


def moving(count=25, direction=1):
    """uint8 (count, 320, 192, 3) portrait frames of a bar sliding sideways."""
    frames = np.full((count, 320, 192, 3), 40, np.uint8)
    for t in range(count):
        x = (96 + direction * 6 * (t - count + 1)) % 192
        frames[t, :, max(0, x - 12) : x + 12] = (230, 200, 60)
    return frames


def tone(frames):
    samples = len(frames) * SR // 24
    return np.repeat((0.3 * np.sin(np.arange(samples) / 9.0))[None], 2, axis=0).astype(np.float32)


def test_an_extension_continues_the_motion_of_the_sources_last_frames(tiny_engine):
    # Same last frame, opposite motion before it: a single-image condition could not tell them apart.
    right, left = moving(direction=1), moving(direction=-1)
    assert np.array_equal(right[-1], left[-1])

    def extend(source):
        shots = [Shot("the bar keeps sliding", 1)]
        return tiny_engine.generate(
            GenerationRequest(shots, "portrait", seed=3, steps=STEPS, continue_frames=source)
        )

    after_right, after_left = extend(right), extend(left)
    # Starts on the frame after the source's last: exactly one second of new frames and sound.
    assert after_right.frames.shape == (24, 320, 192, 3)
    assert after_right.audio.shape == (2, SR)
    assert not np.array_equal(after_right.frames, after_left.frames)


@pytest.fixture(scope="module")
def retaken(tiny_engine):
    source = moving(49)

    def retake(frames):
        request = GenerationRequest(
            [Shot("a red ball bounces", 0.7)],
            "portrait",
            seed=4,
            steps=STEPS,
            retake=Retake(frames, tone(frames), SR, 0.5, 1.2),
        )
        return tiny_engine.generate(request)

    changed_after = source.copy()
    changed_after[36:] = 255 - changed_after[36:]
    return source, retake(source), changed_after, retake(changed_after)


def test_a_retake_replaces_only_its_range_and_keeps_the_rest(retaken):
    source, output, _, _ = retaken
    assert output.frames.shape == source.shape
    assert output.audio.shape == tone(source).shape
    first, end = output.cuts  # 0.5 s -> frame 12; rounded out to whole latent frames: 12 + 24
    assert (first, end) == (12, 36)
    assert np.array_equal(output.frames[:first], source[:first])
    assert np.array_equal(output.frames[end:], source[end:])
    assert np.abs(output.frames[first:end].astype(int) - source[first:end]).mean() > 5
    # The sound outside the range is the source's, up to the few-millisecond fades at the joints.
    fade = round(0.005 * SR)
    cut_in, cut_out = first * SR // 24, end * SR // 24
    original = tone(source)
    assert np.array_equal(output.audio[:, : cut_in - fade], original[:, : cut_in - fade])
    assert np.array_equal(output.audio[:, cut_out + fade :], original[:, cut_out + fade :])


def test_a_retake_leads_into_what_follows_its_range(retaken):
    # Only the frames after the range differ between the two sources, yet the new range differs:
    # it is conditioned on both sides.
    _, output, _, other = retaken
    first, end = output.cuts
    assert not np.array_equal(output.frames[first:end], other.frames[first:end])
    assert np.array_equal(output.frames[:first], other.frames[:first])


def test_a_retake_outside_the_video_is_refused(tiny_engine):
    frames = moving(25)
    request = GenerationRequest(
        [Shot("x", 1)], "portrait", seed=1, retake=Retake(frames, tone(frames), SR, 2.0, 3.0)
    )
    with pytest.raises(ValueError, match="inside the video"):
        tiny_engine.generate(request)


# --- through the job, the video page and the API ----------------------------------------------


def finished_video(owner, frames, **fields):
    """A succeeded draft whose video is ``frames`` with a tone, written by the worker's media code."""
    import tempfile
    from pathlib import Path

    from django.core.files import File

    from generation import media
    from generation.models import Generation
    from tests.conftest import queued_generation

    generation = queued_generation(
        owner, status=Generation.Status.SUCCEEDED, check_status=Generation.Check.PASSED, **fields
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "video.mp4"
        media.write_mp4(path, frames, 24, tone(frames), SR)
        with open(path, "rb") as fh:
            generation.video.save("video.mp4", File(fh), save=False)
    generation.duration = len(frames) / 24
    generation.save()
    return generation


@pytest.mark.django_db
def test_a_retake_job_keeps_the_source_outside_its_range(tiny_model, user):
    from generation import media
    from generation.jobs import run_generation
    from tests.conftest import queued_generation

    source = finished_video(user, moving(25), seconds=1)
    retake = queued_generation(
        user, prompt="a red ball", seconds=1, source=source, retake_start=0.3, retake_end=0.7
    )

    assert run_generation(retake.pk) == "succeeded"
    retake.refresh_from_db()
    frames, _ = media.read_frames(retake.video.path)
    before, _ = media.read_frames(source.video.path)
    assert frames.shape == before.shape
    difference = np.abs(frames.astype(int) - before).mean(axis=(1, 2, 3))
    # 0.3 s -> frame 7; the range rounded out to whole latent frames: 7 + 16.
    assert difference[:7].max() < 3 and difference[23:].max() < 3  # re-encoded, otherwise the same
    assert difference[7:23].mean() > 10


@pytest.mark.django_db
def test_the_video_page_starts_a_retake_of_my_own_video(user_client, user, rq_queue):
    from generation.models import Generation

    source = finished_video(user, moving(25), seconds=1)
    page = user_client.get(source.get_absolute_url()).content.decode()
    assert 'data-testid="retake-form"' in page

    response = user_client.post(
        f"/g/{source.code}/retake", {"prompt": "now it snows", "start": "0.2", "end": "0.8"}
    )
    retake = Generation.objects.get(source=source)
    assert response.status_code == 302 and response["Location"] == retake.get_absolute_url()
    assert (retake.retake_start, retake.retake_end, retake.seconds, retake.seed) == (0.2, 0.8, 1, source.seed)

    # A range outside the video is refused with a message, nothing stored.
    response = user_client.post(
        f"/g/{source.code}/retake", {"prompt": "x", "start": "0.5", "end": "9"}, follow=True
    )
    assert "inside the video" in response.content.decode()
    assert Generation.objects.filter(source=source).count() == 1
