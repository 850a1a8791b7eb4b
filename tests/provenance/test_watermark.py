import av
import numpy as np
import pytest

from provenance.watermark import CORNER_ORDER, MovingWatermark

from .conftest import BASE_ID
from .synthetic import write_clip

CORNERS = {
    "top-left": (slice(0, 90), slice(0, 160)),
    "top-right": (slice(0, 90), slice(480, 640)),
    "bottom-left": (slice(270, 360), slice(0, 160)),
    "bottom-right": (slice(270, 360), slice(480, 640)),
}


def _marked_corners(luma: np.ndarray, grey: int) -> set[str]:
    """Corners where many pixels are far from the flat grey of the source."""
    return {name for name, box in CORNERS.items() if (np.abs(luma[box].astype(int) - grey) > 30).sum() > 200}


@pytest.fixture(scope="module")
def grey_export(tmp_path_factory, export):
    directory = tmp_path_factory.mktemp("grey")
    frames = (np.full((360, 640, 3), 128, np.uint8) for _ in range(100))
    clip = write_clip(directory / "grey.mp4", 0, seconds=10, width=640, height=360, fps=10, frames=frames)
    return export(clip, BASE_ID + 77)


def test_visible_mark_visits_every_corner_in_turn(grey_export):
    seen = {}
    with av.open(str(grey_export.path)) as container:
        for frame in container.decode(video=0):
            if frame.time in (1.0, 4.0, 7.0, 9.5):
                luma = frame.to_ndarray(format="gray")
                seen[frame.time] = _marked_corners(luma, int(np.median(luma)))
    assert seen == {1.0: {"top-left"}, 4.0: {"bottom-right"}, 7.0: {"top-right"}, 9.5: {"bottom-left"}}


def test_visible_mark_is_semi_transparent(grey_export):
    with av.open(str(grey_export.path)) as container:
        frame = next(f for f in container.decode(video=0) if f.time == 1.0)
    luma = frame.to_ndarray(format="gray")[CORNERS["top-left"]].astype(int)
    # Full-opacity white text would reach ~255; at 60% over grey it stays well below.
    assert 170 < luma.max() < 235
    assert luma.min() > 20


def test_a_crop_of_any_side_leaves_the_mark_visible_half_the_time():
    for side in ("top", "bottom", "left", "right"):
        hidden = [corner for corner in CORNER_ORDER if side in corner]
        assert len(hidden) == 2 and len(set(CORNER_ORDER)) == 4


def test_corner_changes_every_period():
    mark = MovingWatermark("Site", "bob", 1280, 720, period=2.5)
    assert [mark.corner_at(t) for t in (0, 2.4, 2.5, 5.1, 7.6, 10.0)] == [
        "top-left",
        "top-left",
        "bottom-right",
        "top-right",
        "bottom-left",
        "top-left",
    ]


def test_blend_only_touches_the_mark_box_and_keeps_chroma_neutral():
    mark = MovingWatermark("Site", "a-rather-long-handle", 640, 360)
    yuv = np.full((540, 640), 128, np.uint8)
    mark.apply(yuv, 0.0)
    x, y, w, h = mark.box_at(0.0)
    changed = np.argwhere(yuv[:360] != 128)
    assert changed[:, 0].min() >= y and changed[:, 0].max() < y + h
    assert changed[:, 1].min() >= x and changed[:, 1].max() < x + w
    assert (yuv[360:] == 128).all()  # achromatic mark over neutral chroma


def test_mark_fits_portrait_video():
    mark = MovingWatermark("A long site name", "an-extremely-long-handle-indeed", 360, 640)
    for t in (0, 3, 6, 9):
        x, y, w, h = mark.box_at(t)
        assert 0 <= x and x + w <= 360 and 0 <= y and y + h <= 640


def test_apply_refuses_frames_of_another_size():
    mark = MovingWatermark("Site", "bob", 640, 360)
    with pytest.raises(ValueError):
        mark.apply(np.zeros((720, 1280), np.uint8), 0.0)
