"""The job function run in-process on the tiny model: outputs, determinism, storyboard, cancel, faults."""

import io
import threading

import numpy as np
import pytest

from generation import media
from generation.actions import cancel_generation
from generation.jobs import run_generation, sweep_stuck_generations
from generation.models import Generation
from tests.conftest import queued_generation, wait_for


@pytest.mark.django_db
def test_job_makes_an_mp4_with_h264_video_and_aac_audio_of_matching_length(tiny_model, user):
    generation = queued_generation(user, seconds=2, orientation="landscape")
    assert run_generation(generation.pk) == "succeeded"
    generation.refresh_from_db()
    assert generation.status == "succeeded" and generation.percent == 100
    info = media.probe(generation.video.path)
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert info.width > info.height  # landscape
    assert abs(info.video_seconds - 2) < 0.1
    assert abs(info.audio_seconds - info.video_seconds) < 0.05
    assert generation.poster and generation.sprite
    assert generation.timings["pipeline_s"] > 0


@pytest.mark.django_db
def test_same_seed_gives_the_same_frames_and_another_seed_does_not(tiny_model, user):
    def frames_for(seed: int) -> np.ndarray:
        generation = queued_generation(user, seed=seed)
        run_generation(generation.pk)
        generation.refresh_from_db()
        return media.read_frames(generation.video.path)[0]

    first, again, other = frames_for(7), frames_for(7), frames_for(8)

    def difference(a, b) -> float:
        return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())

    # The same video to the eye. (Bit-identical output is the engine's own test; through a
    # process whose torch thread count other code changed, float sums may round differently.)
    assert first.shape == again.shape and difference(first, again) < 0.5
    assert difference(first, other) > 5


@pytest.mark.django_db
def test_storyboard_renders_one_mp4_with_every_shot(tiny_model, user):
    shots = [{"prompt": "a door opens", "seconds": 1}, {"prompt": "a cat walks in", "seconds": 2}]
    generation = queued_generation(user, storyboard=shots, seconds=3, shots=2, prompt="a door / a cat")
    assert run_generation(generation.pk) == "succeeded"
    generation.refresh_from_db()
    info = media.probe(generation.video.path)
    assert abs(info.video_seconds - 3) < 0.1
    assert abs(info.audio_seconds - info.video_seconds) < 0.05
    # 3 s fits one pass of the tiny profile: both shots were denoised together, and the row says so.
    assert generation.storyboard_mode == Generation.StoryboardMode.ONE_PASS


@pytest.mark.django_db
def test_a_job_runs_once_even_if_enqueued_twice(tiny_model, user):
    generation = queued_generation(user)
    assert run_generation(generation.pk) == "succeeded"
    assert run_generation(generation.pk) == "not claimed"


@pytest.mark.django_db(transaction=True)
def test_cancel_stops_a_running_job(tiny_model, user, monkeypatch):
    # The tiny model finishes a clip in about a second; look for the cancel at every step.
    monkeypatch.setattr("generation.jobs.CANCEL_CHECK_INTERVAL", 0)
    generation = queued_generation(user, seconds=4)

    def cancel_when_generating():
        wait_for(
            lambda: Generation.objects.filter(pk=generation.pk, stage="generating").exists(),
            timeout=120,
            interval=0.02,
            message="the job to start generating",
        )
        cancel_generation(Generation.objects.get(pk=generation.pk))

    canceller = threading.Thread(target=cancel_when_generating)
    canceller.start()
    outcome = run_generation(generation.pk)
    canceller.join()
    generation.refresh_from_db()
    assert outcome == "cancelled"
    assert generation.status == "cancelled"
    assert not generation.video


@pytest.mark.django_db
def test_a_job_that_raises_fails_with_a_clear_message(tiny_model, user, settings):
    settings.SORA_VIDEO_MODEL = str(tiny_model.parent / "no-such-model")
    generation = queued_generation(user)
    assert run_generation(generation.pk) == "failed"
    generation.refresh_from_db()
    assert generation.status == "failed"
    assert "went wrong" in generation.error
    assert generation.error_detail  # the traceback, for staff


@pytest.mark.django_db
def test_sweeper_fails_running_jobs_whose_worker_went_silent(user, settings):
    from django.utils import timezone

    settings.GENERATION_HEARTBEAT_TIMEOUT = 30
    stale = queued_generation(
        user, status="running", heartbeat=timezone.now() - timezone.timedelta(seconds=60)
    )
    alive = queued_generation(user, status="running", heartbeat=timezone.now())
    assert sweep_stuck_generations() == 1
    stale.refresh_from_db()
    alive.refresh_from_db()
    assert stale.status == "failed" and "stopped unexpectedly" in stale.error
    assert alive.status == "running"


@pytest.mark.django_db
def test_queued_jobs_that_redis_lost_are_put_back_on_the_queue(user, rq_queue):
    from django.core.management import call_command
    from django.utils import timezone
    from rq.job import Job

    from generation import queue

    minutes_ago = timezone.now() - timezone.timedelta(minutes=2)
    lost = queued_generation(user, created=minutes_ago, rq_job_id="wiped-by-a-redis-restart")
    kept = queued_generation(user, created=minutes_ago)
    kept.rq_job_id = queue.enqueue_generation(kept.pk)
    kept.save(update_fields=["rq_job_id"])
    fresh = queued_generation(user, rq_job_id="not-enqueued-yet")  # still inside its commit window

    out = io.StringIO()
    call_command("sweep_generations", stdout=out)

    assert "re-enqueued 1 lost one(s)" in out.getvalue()
    lost.refresh_from_db()
    assert lost.rq_job_id != "wiped-by-a-redis-restart"
    job = Job.fetch(lost.rq_job_id, connection=rq_queue.connection)
    assert job.args == (lost.pk,) and job.origin == rq_queue.name
    assert Generation.objects.get(pk=kept.pk).rq_job_id == kept.rq_job_id
    assert Generation.objects.get(pk=fresh.pk).rq_job_id == "not-enqueued-yet"
