"""Extensions are delivered as source + segment by stream copy; what happens when that can't be."""

import pytest

from api.models import Extension
from api.stitching import StitchError, stitch


def test_parts_with_different_sizes_are_not_joined(user, make_generation, tmp_path):
    portrait = make_generation(user, status="succeeded", orientation="portrait", shade=60)
    landscape = make_generation(user, status="succeeded", orientation="landscape", shade=60)
    with portrait.video.open("rb") as a, landscape.video.open("rb") as b, pytest.raises(StitchError):
        stitch([a, b], str(tmp_path / "out.mp4"))


def test_files_that_arent_videos_are_not_joined(user, make_generation, tmp_path):
    video = make_generation(user, status="succeeded")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 2048)
    with video.video.open("rb") as a, open(junk, "rb") as b, pytest.raises(StitchError):
        stitch([a, b], str(tmp_path / "out.mp4"))


def test_an_extension_whose_source_is_gone_delivers_the_segment_alone(api, user, make_generation):
    source = make_generation(user, status="succeeded", seconds=2, shade=60)
    segment = make_generation(user, status="succeeded", seconds=1, source=source, shade=60)
    Extension.objects.create(generation=segment, source_seconds=2)
    api.videos.delete("video_" + source.code)
    content = api.videos.download_content("video_" + segment.code).content
    from generation import media
    from provenance.models import Export

    export = Export.objects.get(generation=segment)
    assert content == export.file.read()
    assert abs(media.probe(export.file.path).video_seconds - 1) < 0.1  # the segment alone
    assert api.videos.retrieve("video_" + segment.code).seconds == "3"  # still the total it was made as


def test_an_extension_of_an_extension_stitches_all_three(api, user, make_generation):
    from generation import media

    first = make_generation(user, status="succeeded", seconds=1, shade=20)
    second = make_generation(user, status="succeeded", seconds=1, source=first, shade=120)
    Extension.objects.create(generation=second, source_seconds=1)
    third = make_generation(user, status="succeeded", seconds=1, source=second, shade=230)
    Extension.objects.create(generation=third, source_seconds=2)
    api.videos.download_content("video_" + third.code)
    frames, _ = media.read_frames(Extension.objects.get(generation=third).video.path)
    assert len(frames) == 3 * 25
    assert [int(frames[i, 5, 5, 0]) // 50 for i in (10, 35, 60)] == [0, 2, 4]
