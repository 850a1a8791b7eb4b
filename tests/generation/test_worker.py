"""Real RQ worker processes on the real queue: the whole path, and a worker killed mid-job."""

import os
import signal

import pytest
from django.urls import reverse

from generation import media
from generation.jobs import sweep_stuck_generations
from generation.models import Generation
from tests.conftest import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def submit(client, **fields) -> Generation:
    data = {
        "prompt": "waves on a pebble beach, gulls calling",
        "seconds": "2",
        "orientation": "portrait",
        "seed": "5",
        "shots-TOTAL_FORMS": "0",
        "shots-INITIAL_FORMS": "0",
    }
    data.update(fields)
    response = client.post(reverse("generation:create"), data)
    assert response.status_code == 302, response.content.decode()[-2000:]
    return Generation.objects.latest("created")


def test_submitted_job_is_generated_by_a_worker_process(client, user, rq_queue, worker):
    client.force_login(user)
    generation = submit(client)
    wait_for(
        lambda: Generation.objects.get(pk=generation.pk).is_final, timeout=240, message="the job to finish"
    )
    generation.refresh_from_db()
    assert generation.status == "succeeded", generation.error_detail + worker.output()[-3000:]
    info = media.probe(generation.video.path)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert info.height > info.width  # portrait, as asked
    assert abs(info.audio_seconds - info.video_seconds) < 0.05
    page = client.get(generation.get_absolute_url()).content.decode()
    assert 'data-testid="result-video"' in page


def test_a_killed_worker_leaves_no_job_stuck_running(client, user, rq_queue, worker, settings):
    client.force_login(user)
    generation = submit(client, seconds="4")
    wait_for(
        lambda: Generation.objects.filter(pk=generation.pk, status="running").exists(),
        timeout=120,
        interval=0.05,
        message="the worker to claim the job",
    )
    os.kill(worker.pid, signal.SIGKILL)
    worker.proc.wait()

    settings.GENERATION_HEARTBEAT_TIMEOUT = 2
    wait_for(lambda: sweep_stuck_generations() == 1, timeout=30, interval=0.5, message="the sweeper")
    generation.refresh_from_db()
    assert generation.status == "failed"
    assert "stopped unexpectedly" in generation.error
    page = client.get(generation.get_absolute_url()).content.decode()
    assert "stopped unexpectedly" in page and "Retry" in page
