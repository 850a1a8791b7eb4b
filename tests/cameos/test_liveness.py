"""Liveness verdicts on real recordings (VP8/VP9 + Opus WebM, H.264 + AAC MP4) made by the tests."""

import io
import json
import wave

import numpy as np
import pytest
from PIL import Image

from cameos.liveness import Challenge, analyse_recording, face_embeddings_in_frames
from tests import media_factory

CHALLENGE = Challenge("4719", ("left", "right"))


def test_right_challenge_passes_and_returns_reference_media(liveness_clip):
    result = analyse_recording(liveness_clip("good"), CHALLENGE)

    assert result.verified, result.reasons
    assert result.reasons == []
    json.dumps(result.checks)  # stored as JSON by the site
    assert result.checks["turns"]["seen"] == ["left", "right"]
    assert result.checks["speech"]["transcript"] == "4 7 1 9"
    assert result.checks["face"]["face_ratio"] > 0.9
    assert 3.0 < result.checks["duration"] < 6.0
    assert result.checks["media"]["declared_duration"] is None  # written like MediaRecorder

    assert 1 <= len(result.reference_faces) <= 3
    for jpeg in result.reference_faces:
        image = Image.open(io.BytesIO(jpeg))
        assert image.format == "JPEG" and min(image.size) > 100
    with wave.open(io.BytesIO(result.voice_sample_wav)) as w:
        assert (w.getnchannels(), w.getframerate(), w.getsampwidth()) == (1, 16_000, 2)
        assert w.getnframes() / 16_000 > 1.0
    assert len(result.voice_embedding) == 256
    assert np.linalg.norm(result.voice_embedding) == pytest.approx(1.0, abs=1e-3)
    assert len(result.face_embedding) == 128


def test_safari_style_mp4_passes(liveness_clip):
    result = analyse_recording(liveness_clip("good_mp4", container="mp4"), CHALLENGE)

    assert result.verified, result.reasons
    assert result.checks["media"]["video_codec"] == "h264"


def test_vp9_webm_with_the_other_turn_order_passes(liveness_clip):
    challenge = Challenge("4719", ("right", "left"))
    result = analyse_recording(liveness_clip("good_vp9", turns=("right", "left"), codec="vp9"), challenge)

    assert result.verified, result.reasons
    assert result.checks["turns"]["seen"] == ["right", "left"]


def test_wrong_digits_fail_with_what_we_heard(liveness_clip):
    result = analyse_recording(liveness_clip("wrong_digits", digits="4718"), CHALLENGE)

    assert not result.verified
    assert result.reasons == [
        "The numbers we heard (4 7 1 8) are not the ones shown for this recording. "
        "Please read the numbers on screen, one by one."
    ]
    assert result.checks["failed"] == ["digits"]


def test_silence_fails_as_numbers_not_heard(liveness_clip):
    result = analyse_recording(liveness_clip("silent", speech=False), CHALLENGE)

    assert not result.verified
    assert result.reasons == ["We could not hear the numbers. Please read them aloud, clearly."]
    assert result.voice_embedding is None and result.voice_sample_wav is None


def test_empty_room_fails_as_no_face(liveness_clip):
    result = analyse_recording(liveness_clip("no_face", face=False), CHALLENGE)

    assert not result.verified
    assert result.reasons[0].startswith("No face in most of the video.")
    assert result.reference_faces == [] and result.face_embedding is None


def test_still_head_fails_as_no_turn(liveness_clip):
    result = analyse_recording(liveness_clip("static", turns=()), CHALLENGE)

    assert not result.verified
    assert result.reasons[0] == (
        "We didn't see your head turn. Turn your head clearly, about a quarter of the way, "
        "and back to the camera each time."
    )
    assert result.checks["failed"][0] == "turns"


def test_turns_in_the_wrong_order_fail(liveness_clip):
    result = analyse_recording(liveness_clip("reversed", turns=("right", "left")), CHALLENGE)

    assert not result.verified
    assert result.reasons == [
        "Your head turned right, then left, but the challenge asked for left, then right. "
        "Turn to your own left or right as the screen says, in that order."
    ]


def test_two_faces_fail(liveness_clip):
    result = analyse_recording(liveness_clip("two_faces", faces=2), CHALLENGE)

    assert not result.verified
    assert "More than one face was in the video. Please record on your own." in result.reasons
    assert result.checks["face"]["faces"] == 2


def test_flat_photo_tilted_and_slid_fails(liveness_clip):
    result = analyse_recording(liveness_clip("photo", photo_attack=True), CHALLENGE)

    assert not result.verified
    # Perspective alone can fake the nose moving between the eyes; the face's motion still fits
    # one homography, which a real head's doesn't.
    assert "flat" in result.checks["failed"] and result.checks["flat"]["verdict"] == "flat"
    assert (
        "Your face moved like a flat picture, not a real head. Please record yourself live, "
        "turning your head as asked." in result.reasons
    )


def test_face_embeddings_in_frames_match_the_cameo_face(liveness_clip):
    cameo = analyse_recording(liveness_clip("good"), CHALLENGE)
    portrait = np.asarray(media_factory.portrait_image())
    blank = np.full((240, 320, 3), 128, np.uint8)

    found = face_embeddings_in_frames([portrait, blank])

    assert len(found) == 1 and len(found[0]) == 128
    assert np.linalg.norm(np.array(found[0]) - np.array(cameo.face_embedding)) < 0.6
