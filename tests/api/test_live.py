"""End to end: the `openai` package against a live daphne, with a real RQ worker on the tiny model."""

import openai
import pytest

from accounts.models import ApiToken
from generation import media
from tests.api.conftest import openai_client

pytestmark = pytest.mark.slow


def test_the_openai_package_creates_downloads_remixes_extends_lists_and_deletes(
    transactional_db, tiny_model, worker, live_site, user, tmp_path
):
    api = openai_client(ApiToken.issue(user, "e2e")[1], base_url=live_site + "/v1")

    video = api.videos.create_and_poll(
        prompt="a kite over hills", seconds="1", size="720x1280", poll_interval_ms=1000
    )
    assert (video.status, video.progress, video.seconds, video.size) == ("completed", 100, "1", "192x320"), (
        worker.output()[-3000:]
    )
    assert video.completed_at >= video.created_at

    mp4 = tmp_path / "video.mp4"
    api.videos.download_content(video.id).write_to_file(mp4)
    info = media.probe(mp4)
    assert (info.video_codec, info.audio_codec, info.width, info.height) == ("h264", "aac", 192, 320)
    for variant in ("thumbnail", "spritesheet"):
        assert api.videos.download_content(video.id, variant=variant).content[:3] == b"\xff\xd8\xff"  # JPEG

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
