"""End to end: the `openai` package against a live daphne, with a real RQ worker on the tiny model."""

import openai
import pytest

from accounts.models import ApiToken
from api.models import WebhookDelivery
from api.webhooks import add_endpoint
from generation import media
from tests.api.conftest import openai_client
from tests.conftest import wait_for

pytestmark = pytest.mark.slow


def test_the_openai_package_creates_downloads_remixes_extends_lists_and_deletes(
    transactional_db, tiny_model, worker, live_site, user, tmp_path, receiver
):
    api = openai_client(ApiToken.issue(user, "e2e")[1], base_url=live_site + "/v1")
    endpoint = add_endpoint(user, receiver.url, ["video.completed"])
    receiver.answers = [500]  # the receiver fails the first delivery

    video = api.videos.create_and_poll(
        prompt="a kite over hills", seconds="1", size="720x1280", poll_interval_ms=1000
    )
    assert (video.status, video.progress, video.seconds, video.size) == ("completed", 100, "1", "192x320"), (
        worker.output()[-3000:]
    )
    assert video.completed_at >= video.created_at
    check_webhook_retried_after_a_500(video.id, endpoint, receiver, worker)

    mp4 = tmp_path / "video.mp4"
    api.videos.download_content(video.id).write_to_file(mp4)
    info = media.probe(mp4)
    assert (info.video_codec, info.audio_codec, info.width, info.height) == ("h264", "aac", 192, 320)
    thumbnail = api.videos.download_content(video.id, variant="thumbnail").content
    assert thumbnail[:4] == b"RIFF" and thumbnail[8:12] == b"WEBP"
    assert api.videos.download_content(video.id, variant="spritesheet").content[:3] == b"\xff\xd8\xff"  # JPEG

    remix = api.videos.remix(video.id, prompt="the kite at night")
    assert remix.remixed_from_video_id == video.id
    remix = api.videos.poll(remix.id, poll_interval_ms=1000)
    assert remix.status == "completed", worker.output()[-3000:]

    extension = api.videos.extend(
        video=openai.omit, extra_body={"video": {"id": video.id}}, prompt="it starts to rain", seconds="1"
    )
    extension = api.videos.poll(extension.id, poll_interval_ms=1000)
    assert (extension.status, extension.seconds) == ("completed", "2"), worker.output()[-3000:]
    stitched = tmp_path / "extension.mp4"
    api.videos.download_content(extension.id).write_to_file(stitched)
    # The segment continues the source's last frames and starts on the frame after them: 1 s exactly.
    assert abs(media.probe(stitched).video_seconds - (info.video_seconds + 1.0)) < 0.02

    listed = [v.id for v in api.videos.list(limit=2)]  # three videos: the package fetches two pages
    assert listed == [extension.id, remix.id, video.id]

    for made in (extension, remix, video):
        assert api.videos.delete(made.id).deleted
    assert api.videos.list().data == []
    with pytest.raises(openai.NotFoundError):
        api.videos.retrieve(video.id)


def check_webhook_retried_after_a_500(video_id, endpoint, receiver, worker) -> None:
    """The worker that made the video sent `video.completed` (CPU queue), the receiver answered
    500, the sweeper put the retry on the queue when it was due, and the worker sent it again."""
    from django.core.management import call_command
    from django.utils import timezone
    from openai import OpenAI

    failed = wait_for(
        lambda: WebhookDelivery.objects.filter(status="pending", attempts=1).first(),
        timeout=30,
        message="the first delivery\n" + worker.output()[-2000:],
    )
    assert failed.response_status == 500
    # Skip the back-off's wait (30 s), not the machinery: the real sweeper, queue and worker retry.
    WebhookDelivery.objects.filter(pk=failed.pk).update(next_attempt=timezone.now())
    call_command("sweep_generations")
    delivered = wait_for(
        lambda: WebhookDelivery.objects.filter(pk=failed.pk, status="delivered").first(),
        timeout=30,
        message="the retried delivery\n" + worker.output()[-2000:],
    )
    assert (delivered.attempts, delivered.response_status) == (2, 200)
    unwrap = OpenAI(api_key="unused").webhooks.unwrap
    events = [unwrap(r["body"], r["headers"], secret=endpoint.secret) for r in receiver.requests]
    assert [(e.type, e.data.id) for e in events] == [("video.completed", video_id)] * 2
