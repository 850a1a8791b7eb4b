"""Character cameos (pets, objects): media is vetted and reference images picked, no liveness."""

import io

import pytest
from PIL import Image, ImageDraw

from cameos.liveness import RecordingError, analyse_character
from tests import media_factory


@pytest.fixture
def toy_png(tmp_path):
    """A drawn object (a red ball on a table), no face."""
    image = Image.new("RGB", (640, 480), (214, 200, 170))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 330, 640, 480), fill=(120, 80, 40))
    draw.ellipse((230, 130, 430, 330), fill=(200, 30, 40), outline=(90, 10, 10), width=6)
    path = tmp_path / "ball.png"
    image.save(path)
    return path


def _jpeg(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    return image


def test_object_picture_is_accepted_as_reference(toy_png):
    result = analyse_character([toy_png])

    assert len(result.reference_images) == 1
    assert _jpeg(result.reference_images[0]).size == (640, 480)
    assert result.human_face is False
    assert result.checks["files"][0]["kind"] == "image"


def test_large_picture_is_shrunk_to_1024(tmp_path):
    path = tmp_path / "big.jpg"
    Image.new("RGB", (3000, 2000), (20, 120, 60)).save(path)

    result = analyse_character([path])

    assert _jpeg(result.reference_images[0]).size == (1024, 683)


def test_clip_gives_three_frames(liveness_clip):
    result = analyse_character([liveness_clip("no_face", face=False)])

    assert len(result.reference_images) == 3
    assert result.checks["files"][0]["kind"] == "video"
    assert result.human_face is False


def test_pictures_come_before_clip_frames_and_at_most_three(toy_png, liveness_clip):
    result = analyse_character([liveness_clip("no_face", face=False), toy_png, toy_png])

    assert len(result.reference_images) == 3
    assert [f["kind"] for f in result.checks["files"]] == ["video", "image", "image"]


def test_human_face_is_flagged(tmp_path):
    path = tmp_path / "person.jpg"
    media_factory.portrait_image().save(path)

    result = analyse_character([path])

    assert result.human_face is True


@pytest.mark.parametrize("kind", ["text", "random", "empty"])
def test_junk_is_rejected_naming_the_file(toy_png, tmp_path, kind):
    junk = media_factory.junk_files(tmp_path / "junk")[kind]

    with pytest.raises(RecordingError) as caught:
        analyse_character([toy_png, junk])

    expected = (
        "The file is empty. Please record again."
        if kind == "empty"
        else ("File 2 is not a picture or video we can read.")
    )
    assert str(caught.value) == expected


def test_truncated_picture_is_rejected(toy_png, tmp_path):
    path = tmp_path / "cut.jpg"
    buffer = io.BytesIO()
    Image.open(toy_png).convert("RGB").save(buffer, format="JPEG")
    path.write_bytes(buffer.getvalue()[:3000])

    with pytest.raises(RecordingError, match="File 1 is a damaged picture"):
        analyse_character([path])


def test_tiny_picture_is_rejected(tmp_path):
    path = tmp_path / "icon.png"
    Image.new("RGB", (32, 32), (0, 0, 0)).save(path)

    with pytest.raises(RecordingError, match=r"File 1 is too small \(32×32\)"):
        analyse_character([path])


def test_nothing_uploaded_is_rejected():
    with pytest.raises(RecordingError, match="at least one picture or clip"):
        analyse_character([])
