"""Uploads that are not usable recordings raise RecordingError with words a person understands."""

import random
from fractions import Fraction

import av
import numpy as np
import pytest

from cameos.liveness import Challenge, RecordingError, analyse_recording
from tests import media_factory

CHALLENGE = Challenge("4719", ("left", "right"))


@pytest.fixture(scope="module")
def junk(tmp_path_factory):
    return media_factory.junk_files(tmp_path_factory.mktemp("junk"))


def _rejected(path, **limits) -> str:
    with pytest.raises(RecordingError) as caught:
        analyse_recording(path, CHALLENGE, **limits)
    return str(caught.value)


def test_empty_file_is_refused(junk):
    assert _rejected(junk["empty"]) == "The file is empty. Please record again."


@pytest.mark.parametrize("kind", ["text", "random"])
def test_text_and_random_bytes_are_not_a_video(junk, kind):
    assert _rejected(junk[kind]) == "We could not read this file as a video. Please record again."


def test_png_renamed_webm_is_not_a_video(junk):
    assert _rejected(junk["png"]) == "This file is not a video recording. Please upload a WebM or MP4 video."


def test_missing_file_is_refused(tmp_path):
    assert "could not find" in _rejected(tmp_path / "gone.webm")


def test_file_cut_to_a_few_bytes_is_unreadable(liveness_clip, tmp_path):
    cut = tmp_path / "cut.webm"
    cut.write_bytes(liveness_clip("good").read_bytes()[:100])

    assert _rejected(cut) == "We could not read this file as a video. Please record again."


def test_file_with_duration_header_cut_in_half_is_cut_off(liveness_clip, tmp_path):
    data = liveness_clip("good_seekable", live=False).read_bytes()
    cut = tmp_path / "half.webm"
    cut.write_bytes(data[: len(data) // 2])

    assert _rejected(cut) == "The recording seems to be cut off. Please upload it again."


def test_mediarecorder_style_file_cut_in_half_is_too_short(liveness_clip, tmp_path):
    # Without a duration header a cut can't be told from a short take: the length rule catches it.
    data = liveness_clip("good").read_bytes()
    cut = tmp_path / "half.webm"
    cut.write_bytes(data[: len(data) // 2])

    assert _rejected(cut).startswith("The recording is too short")


def test_mp4_cut_in_half_is_damaged(liveness_clip, tmp_path):
    data = liveness_clip("good_mp4", container="mp4").read_bytes()
    cut = tmp_path / "half.mp4"
    cut.write_bytes(data[: len(data) // 2])

    assert _rejected(cut) == "The recording is damaged and could not be read to the end. Please record again."


def test_corrupted_header_is_unreadable(liveness_clip, tmp_path):
    data = bytearray(liveness_clip("good").read_bytes())
    data[:2000] = random.Random(1).randbytes(2000)
    broken = tmp_path / "broken.webm"
    broken.write_bytes(bytes(data))

    assert _rejected(broken) == "We could not read this file as a video. Please record again."


@pytest.mark.parametrize("name, options", [("good", {}), ("good_mp4", {"container": "mp4"})])
def test_corrupted_middle_is_damaged(liveness_clip, tmp_path, name, options):
    # A few damaged bytes only cost a frame or two and the clip is still judged; losing a third
    # of the file either breaks the decoder or leaves a hole in the timestamps.
    data = bytearray(liveness_clip(name, **options).read_bytes())
    start, end = int(len(data) * 0.3), int(len(data) * 0.6)
    data[start:end] = random.Random(1).randbytes(end - start)
    broken = tmp_path / "broken.webm"
    broken.write_bytes(bytes(data))

    assert _rejected(broken).startswith("The recording is damaged")


def test_huge_file_is_refused_before_decoding(liveness_clip):
    message = _rejected(liveness_clip("good"), max_bytes=100_000)

    assert message.startswith("The file is too large (0.") and "the limit is 0.1 MB" in message


def test_too_long_recording_is_refused(liveness_clip):
    assert _rejected(liveness_clip("good"), max_seconds=2.5) == (
        "The recording is too long; it must be at most 2.5 seconds."
    )


def test_too_short_recording_is_refused(liveness_clip):
    assert _rejected(liveness_clip("good"), min_seconds=10).startswith("The recording is too short (4.")


def _write_single_stream(path, kind: str):
    with av.open(str(path), "w", format="webm") as out:
        if kind == "audio":
            stream = out.add_stream("libopus", rate=48_000, layout="mono")
            for i in range(0, 4 * 48_000, 960):
                frame = av.AudioFrame.from_ndarray(np.zeros((1, 960), np.int16), format="s16", layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = 48_000, i, Fraction(1, 48_000)
                out.mux(stream.encode(frame))
        else:
            stream = out.add_stream("libvpx", rate=10)
            stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
            for i in range(40):
                frame = av.VideoFrame.from_ndarray(np.full((120, 160, 3), i * 5, np.uint8), format="rgb24")
                frame.pts, frame.time_base = i, Fraction(1, 10)
                out.mux(stream.encode(frame))
        out.mux(stream.encode())


def test_sound_only_file_has_no_video(tmp_path):
    path = tmp_path / "sound.webm"
    _write_single_stream(path, "audio")

    assert _rejected(path) == "The file has no video. Please allow camera access and record again."


def test_video_without_sound_is_refused(tmp_path):
    path = tmp_path / "mute.webm"
    _write_single_stream(path, "video")

    assert _rejected(path) == "The recording has no sound. Please allow microphone access and record again."
