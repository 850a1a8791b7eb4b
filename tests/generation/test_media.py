"""Media reading, checking and writing on real files encoded with PyAV: no mocks."""

import io
import shutil

import av
import numpy as np
import pytest
from PIL import Image

from generation.media import (
    MediaError,
    last_frame,
    poster_jpeg,
    probe,
    read_audio,
    read_frames,
    sprite_grid,
    sprite_sheet_jpeg,
    write_mp4,
)


@pytest.fixture
def clip(tmp_path, moving_frames, tone):
    """A 2 s 24 fps H.264 + AAC MP4 whose audio was given ~32 ms short, like the pipeline's."""
    path = tmp_path / "clip.mp4"
    write_mp4(path, moving_frames(48), 24, tone(1.968), 24000)
    return path


class _Unseekable:
    """A write-only sink: the muxer can't go back to fill in a duration, as in a browser recording."""

    def __init__(self):
        self.data = bytearray()

    def write(self, chunk):
        self.data += chunk
        return len(chunk)


def _recorded_webm(path, frames, seconds_of_audio=2.0):
    sink = _Unseekable()
    with av.open(sink, "w", format="webm") as container:
        video = container.add_stream("libvpx", rate=24)
        video.width, video.height, video.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        sound = container.add_stream("libopus", rate=48000)
        sound.layout = "mono"
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        samples = np.zeros((1, round(seconds_of_audio * 48000)), dtype=np.float32)
        for start in range(0, samples.shape[1], 960):
            chunk = av.AudioFrame.from_ndarray(samples[:, start : start + 960], format="flt", layout="mono")
            chunk.sample_rate, chunk.pts = 48000, start
            container.mux(sound.encode(chunk))
        container.mux(sound.encode(None))
    path.write_bytes(bytes(sink.data))
    return path


def test_write_mp4_gives_h264_and_aac_of_matching_duration(clip):
    info = probe(clip)

    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert (info.width, info.height, info.frames, info.fps) == (160, 96, 48, 24.0)
    assert info.video_seconds == pytest.approx(2.0)
    # Short audio was padded to the video's length; AAC framing may add a few ms, never a frame.
    assert abs(info.audio_seconds - info.video_seconds) < 1 / 24
    assert (info.sample_rate, info.audio_channels) == (24000, 2)
    assert info.has_video and info.has_audio


def test_write_mp4_trims_long_audio_and_keeps_mono(tmp_path, moving_frames, tone):
    path = tmp_path / "mono.mp4"
    write_mp4(path, moving_frames(24), 24, tone(3.0, channels=1), 24000)
    info = probe(path)
    assert info.audio_channels == 1
    assert abs(info.audio_seconds - 1.0) < 1 / 24


def test_write_mp4_without_audio_and_with_odd_size(tmp_path, moving_frames):
    path = tmp_path / "silent.mp4"
    write_mp4(path, moving_frames(10, height=95, width=151), 24)
    info = probe(path)
    assert info.audio_codec is None and not info.has_audio
    assert (info.width, info.height) == (152, 96)


def test_write_mp4_leaves_no_file_when_it_fails(tmp_path, moving_frames):
    with pytest.raises(ValueError):
        write_mp4(tmp_path / "bad.mp4", moving_frames(4).astype(np.float32), 24)
    assert list(tmp_path.iterdir()) == []


def test_read_frames_and_subsampling(clip, moving_frames):
    frames, fps = read_frames(clip)
    assert frames.shape == (48, 96, 160, 3) and frames.dtype == np.uint8 and fps == 24.0
    # Lossy, but close to what went in.
    assert np.abs(frames.astype(int) - moving_frames(48)).mean() < 8

    every_third, fps = read_frames(clip, max_frames=5, every_nth=3)
    assert every_third.shape[0] == 5 and fps == 8.0
    assert np.array_equal(every_third[1], frames[3])


def test_read_audio_returns_the_track_and_resamples(clip):
    audio, rate = read_audio(clip)
    assert audio.dtype == np.float32 and audio.shape[0] == 2 and rate == 24000
    assert abs(audio.shape[1] / rate - 2.0) < 1 / 24
    assert 0.3 < np.abs(audio[:, :24000]).max() < 0.7  # the 0.5 tone survived AAC

    resampled, rate = read_audio(clip, sample_rate=16000)
    assert rate == 16000 and abs(resampled.shape[1] / 16000 - 2.0) < 1 / 24


def test_last_frame_is_the_final_decoded_frame(clip):
    frames, _ = read_frames(clip)
    image = last_frame(clip)
    assert image.mode == "RGB" and image.size == (160, 96)
    assert np.array_equal(np.asarray(image), frames[-1])


def test_browser_style_webm_without_duration_header_probes_true_durations(tmp_path, moving_frames):
    path = _recorded_webm(tmp_path / "recording.webm", moving_frames(48))
    info = probe(path)
    assert info.format == "matroska,webm"
    assert (info.video_codec, info.audio_codec) == ("vp8", "opus")
    assert info.video_seconds == pytest.approx(2.0, abs=0.005)  # WebM keeps milliseconds
    assert info.audio_seconds == pytest.approx(2.0, abs=0.05)


def test_audio_only_and_video_only_files_say_what_is_missing(tmp_path, clip, moving_frames):
    silent = tmp_path / "silent.mp4"
    write_mp4(silent, moving_frames(12), 24)
    with pytest.raises(MediaError, match="no sound"):
        read_audio(silent)

    sound_only = tmp_path / "sound.m4a"
    with av.open(str(clip)) as source, av.open(str(sound_only), "w", format="mp4") as target:
        stream = target.add_stream_from_template(source.streams.audio[0])
        for packet in source.demux(source.streams.audio[0]):
            if packet.dts is not None:
                packet.stream = stream
                target.mux(packet)
    assert not probe(sound_only).has_video
    with pytest.raises(MediaError, match="no video"):
        read_frames(sound_only)


@pytest.mark.parametrize(
    "content",
    [b"", b"just some text, not a video\n" * 50, b"\x00\x01garbage" * 300],
    ids=["empty", "text", "random-bytes"],
)
def test_unreadable_files_raise_media_error(tmp_path, content):
    path = tmp_path / "upload.mp4"
    path.write_bytes(content)
    for reader in (probe, read_frames, read_audio, last_frame):
        with pytest.raises(MediaError):
            reader(path)


@pytest.mark.parametrize("keep", [100, 0.5], ids=["cut-to-100-bytes", "cut-in-half"])
def test_truncated_files_raise_media_error(tmp_path, clip, keep):
    data = clip.read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: keep if isinstance(keep, int) else int(len(data) * keep)])
    with pytest.raises(MediaError):
        probe(path)


def test_image_renamed_as_video_is_refused(tmp_path):
    png = tmp_path / "face.png"
    Image.new("RGB", (64, 64), "white").save(png)
    renamed = tmp_path / "face.webm"
    shutil.copy(png, renamed)
    with pytest.raises(MediaError, match="image"):
        probe(renamed)


def test_missing_file_raises_media_error(tmp_path):
    with pytest.raises(MediaError, match="found"):
        probe(tmp_path / "nope.mp4")


def test_poster_is_a_jpeg_within_max_side(moving_frames):
    image = Image.open(io.BytesIO(poster_jpeg(moving_frames(30, height=400, width=900), max_side=300)))
    assert image.format == "JPEG" and max(image.size) == 300


def test_poster_skips_a_black_frame(moving_frames):
    frames = moving_frames(7)
    frames[:] = 0
    frames[4] = moving_frames(7)[4]
    image = np.asarray(Image.open(io.BytesIO(poster_jpeg(frames))))
    assert image.mean() > 50


def test_sprite_sheet_grid_of_evenly_spaced_tiles(moving_frames):
    frames = moving_frames(40)
    sheet = Image.open(io.BytesIO(sprite_sheet_jpeg(frames, count=16, tile_width=80)))
    assert sprite_grid(16) == (4, 4)
    assert sheet.format == "JPEG" and sheet.size == (4 * 80, 4 * 48)

    short = Image.open(io.BytesIO(sprite_sheet_jpeg(frames[:3], count=16, tile_width=80)))
    assert short.size == (2 * 80, 2 * 48)  # 3 tiles in a 2 x 2 grid
