import av
import numpy as np
import pytest

from provenance.watermark import MovingWatermark

from .conftest import BASE_ID
from .synthetic import write_clip


def _mark_box(luma: np.ndarray, grey: int) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1) of pixels far from the flat grey of the source."""
    ys, xs = np.nonzero(np.abs(luma.astype(int) - grey) > 30)
    return None if len(ys) < 50 else (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))


def _boxes(path) -> list[tuple[float, tuple[int, int, int, int] | None]]:
    with av.open(str(path)) as container:
        return [
            (frame.time, _mark_box(frame.to_ndarray(format="gray"), 128))
            for frame in container.decode(video=0)
        ]


def _grey_clip(directory, seconds: float):
    frames = (np.full((360, 640, 3), 128, np.uint8) for _ in range(int(seconds * 24)))
    return write_clip(
        directory / f"grey{seconds}.mp4", 0, seconds=seconds, width=640, height=360, fps=24, frames=frames
    )


@pytest.fixture(scope="module")
def grey_clips(tmp_path_factory):
    directory = tmp_path_factory.mktemp("grey")
    return {seconds: _grey_clip(directory, seconds) for seconds in (1.0, 2.0)}


@pytest.mark.parametrize("seconds", [1.0, 2.0])
def test_visible_mark_moves_at_least_once_a_second_on_short_clips(grey_clips, export, seconds):
    boxes = _boxes(export(grey_clips[seconds], BASE_ID + 77).path)
    assert all(box is not None for _, box in boxes)  # visible on every frame
    jumps = [
        t
        for (t, box), (_, before) in zip(boxes[1:], boxes, strict=False)
        if abs(box[0] - before[0]) + abs(box[1] - before[1]) > 20
    ]
    assert jumps, "the mark never moved"
    # Every stretch of the clip between moves (and before the first) is at most a second long.
    edges = [0.0, *jumps, boxes[-1][0] + 1 / 24]
    assert max(b - a for a, b in zip(edges, edges[1:], strict=False)) <= 1.0


def test_each_export_moves_the_mark_along_its_own_path(grey_clips, export):
    paths = [
        tuple(
            (box[0] // 40, box[1] // 40) for _, box in _boxes(export(grey_clips[2.0], BASE_ID + i).path)[::6]
        )
        for i in (77, 78, 79)
    ]
    assert len(set(paths)) == 3  # three exports, three different paths
    assert all(len(set(path)) >= 2 for path in paths)


def test_visible_mark_is_semi_transparent(grey_clips, export):
    path = export(grey_clips[1.0], BASE_ID + 77).path
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
    x0, y0, x1, y1 = _boxes(path)[0][1]
    luma = frame.to_ndarray(format="gray")[y0 : y1 + 1, x0 : x1 + 1].astype(int)
    # Full-opacity white text would reach ~255; at 60% over grey it stays well below.
    assert 170 < luma.max() < 235
    assert luma.min() > 20


def test_path_is_keyed_irregular_and_never_stays_put():
    mark = MovingWatermark("Site", "bob", 1280, 720, key=b"export one")
    moves = mark.moves_until(60.0)
    gaps = np.diff([0.0, *moves])
    assert gaps.max() <= 1.0 and gaps.min() >= 0.3 and gaps.std() > 0.05  # not a fixed rhythm
    boxes = [mark.box_at(t) for t in [0.0, *moves]]
    assert all(a[:2] != b[:2] for a, b in zip(boxes, boxes[1:], strict=False))
    # Every edge of the frame gets visits, so cropping one side hides it only part of the time.
    xs, ys = {b[0] for b in boxes}, {b[1] for b in boxes}
    assert min(xs) < 100 and max(xs) > 900 and min(ys) < 100 and max(ys) > 550
    other = MovingWatermark("Site", "bob", 1280, 720, key=b"export two")
    assert other.moves_until(60.0) != moves
    again = MovingWatermark("Site", "bob", 1280, 720, key=b"export one")
    assert again.moves_until(60.0) == moves and [again.box_at(t) for t in [0.0, *moves]] == boxes


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
