"""A cameo's voice: the owner reads a passage, it is checked against the verified recording's
voice, and only then (and only while the owner's switch is on) may videos speak in it."""

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cameos.actions.voice import set_voice_use, voice_cameo_for
from cameos.errors import CameoRefused
from cameos.jobs import analyse_voice
from cameos.liveness.voice import voice_embedding, wav_bytes
from cameos.models import Cameo, CameoMedia, LedgerEntry
from tests.conftest import generation_with, make_cameo
from tests.media_factory import speech_samples

READING = (
    "When the morning fog lifts over the harbour, the fishing boats come home one by one. "
    "The captain of the red boat always waves to the children on the pier."
)


@pytest.fixture(scope="module")
def owner_voice():
    """The owner's voice (flite rms): the verified recording's digits and a reading of the passage."""
    digits = speech_samples("four, seven, one, nine, two, eight", "rms", 16_000)
    return {
        "embedding": voice_embedding(digits),
        "reading": wav_bytes(speech_samples(READING, "rms", 16_000)),
    }


@pytest.fixture(autouse=True)
def short_readings(settings):
    # The synthetic reading is ~9 s, not 30-60 s; the voice bar stays at its default (0.70): the
    # same flite voice scores ~0.93, other flite/espeak voices 0.48-0.59.
    settings.CAMEO_VOICE_MIN_SECONDS = 5
    settings.CAMEO_VOICE_MIN_SPEECH_SECONDS = 4
    settings.VOICE_ROUTE = "none"


@pytest.fixture
def cameo(make_user, owner_voice):
    return make_cameo(make_user("ada"), voice_embedding=owner_voice["embedding"])


def upload(client, cameo, data: bytes, name="passage.wav", content_type="audio/wav", **headers):
    file = SimpleUploadedFile(name, data, content_type=content_type)
    return client.post(reverse("cameos:voice", args=[cameo.code]), {"recording": file}, **headers)


def test_recording_a_cameo_tells_that_the_voice_passage_comes_next(client, user):
    client.force_login(user)
    page = client.get(reverse("cameos:record")).content.decode()
    assert 'data-testid="voice-step"' in page and "30–60 seconds" in page


def test_the_cameo_page_asks_the_owner_to_read_a_passage(client, cameo):
    client.force_login(cameo.owner)
    page = client.get(cameo.get_absolute_url()).content.decode()
    assert 'data-testid="passage"' in page and "Read this passage aloud" in page
    assert "only when" in page.lower() or "one speaking cameo" in page


def test_owners_reading_in_their_own_voice_is_accepted_and_switches_voice_on(client, cameo, owner_voice):
    client.force_login(cameo.owner)
    response = upload(client, cameo, owner_voice["reading"])
    assert response.status_code == 302
    cameo.refresh_from_db()
    assert cameo.voice_status == Cameo.VoiceStatus.CHECKING and not cameo.speaks_in_own_voice

    assert analyse_voice(cameo.pk) == "accepted"

    cameo.refresh_from_db()
    assert cameo.voice_status == Cameo.VoiceStatus.READY and cameo.voice_use and cameo.speaks_in_own_voice
    assert cameo.voice_checks["similarity"] >= 0.7 and cameo.voice_checks["speech_seconds"] > 4
    assert CameoMedia.objects.filter(cameo=cameo, role=CameoMedia.Role.PASSAGE, position=1).exists()
    entry = LedgerEntry.objects.filter(cameo=cameo).order_by("-seq").first()
    assert entry.data["changes"] == {"voice_use": {"from": False, "to": True}}
    page = client.get(cameo.get_absolute_url()).content.decode()
    assert 'data-testid="voice-use">on<' in page
    # The second run of the same job finds nothing to do.
    assert analyse_voice(cameo.pk) == "not claimed"


def test_someone_elses_voice_is_refused_and_its_files_erased(client, cameo):
    client.force_login(cameo.owner)
    upload(client, cameo, wav_bytes(speech_samples(READING, "slt", 16_000)))

    assert analyse_voice(cameo.pk) == "rejected"

    cameo.refresh_from_db()
    assert cameo.voice_status == Cameo.VoiceStatus.REJECTED and not cameo.voice_use
    assert "doesn't sound like the voice in your verified recording" in cameo.voice_reasons[0]
    assert not CameoMedia.objects.filter(cameo=cameo, role=CameoMedia.Role.PASSAGE).exists()
    page = client.get(cameo.get_absolute_url()).content.decode()
    assert "sound like the voice in your verified recording" in page


def test_a_reading_that_is_mostly_silence_is_refused(client, cameo):
    client.force_login(cameo.owner)
    upload(client, cameo, wav_bytes(np.zeros(16_000 * 8, np.float32)))
    assert analyse_voice(cameo.pk) == "rejected"
    cameo.refresh_from_db()
    assert "speech" in cameo.voice_reasons[0]


@pytest.mark.parametrize(
    "data, name, message",
    [
        (b"", "passage.wav", "empty"),
        (b"just some text, not a recording", "passage.wav", "could not read this file"),
        (b"\x89PNG\r\n\x1a\n" + bytes(64), "passage.webm", "not a sound recording"),
    ],
    ids=["empty", "text", "picture-renamed"],
)
def test_bad_uploads_get_a_clear_error_and_store_nothing(client, cameo, data, name, message):
    client.force_login(cameo.owner)
    response = upload(client, cameo, data, name=name, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert message in response.json()["error"]
    cameo.refresh_from_db()
    assert cameo.voice_status == Cameo.VoiceStatus.NONE
    assert not CameoMedia.objects.filter(cameo=cameo, role=CameoMedia.Role.PASSAGE).exists()


def test_a_too_long_reading_is_refused_by_the_check(client, cameo, settings):
    settings.CAMEO_VOICE_MAX_SECONDS = 6
    client.force_login(cameo.owner)
    upload(client, cameo, wav_bytes(np.zeros(16_000 * 9, np.float32)))
    assert analyse_voice(cameo.pk) == "rejected"
    cameo.refresh_from_db()
    assert "too long" in cameo.voice_reasons[0]


@pytest.mark.parametrize("who", ["stranger", "anonymous"])
def test_nobody_else_can_give_or_switch_a_cameos_voice(client, cameo, make_user, owner_voice, who):
    if who == "stranger":
        client.force_login(make_user("eve"))
    for url, data in [
        (
            reverse("cameos:voice", args=[cameo.code]),
            {"recording": SimpleUploadedFile("p.wav", owner_voice["reading"])},
        ),
        (reverse("cameos:voice_use", args=[cameo.code]), {"use": "on"}),
    ]:
        response = client.post(url, data)
        assert response.status_code == (404 if who == "stranger" else 302)
    cameo.refresh_from_db()
    assert cameo.voice_status == Cameo.VoiceStatus.NONE and not cameo.voice_use


def test_the_owner_switches_voice_off_and_on_and_each_change_is_in_the_ledger(client, cameo, owner_voice):
    client.force_login(cameo.owner)
    with pytest.raises(CameoRefused):
        set_voice_use(cameo, True, actor=cameo.owner)  # nothing read yet
    upload(client, cameo, owner_voice["reading"])
    analyse_voice(cameo.pk)

    client.post(reverse("cameos:voice_use", args=[cameo.code]), {"use": "off"})
    cameo.refresh_from_db()
    assert not cameo.voice_use and not cameo.speaks_in_own_voice
    client.post(reverse("cameos:voice_use", args=[cameo.code]), {"use": "on"})
    cameo.refresh_from_db()
    assert cameo.voice_use

    changes = [
        e.data["changes"]["voice_use"]["to"] for e in LedgerEntry.objects.filter(cameo=cameo, kind="changed")
    ]
    assert changes == [True, False, True]


def test_only_a_single_person_cameo_with_voice_on_lends_its_voice(make_user, cameo, owner_voice):
    Cameo.objects.filter(pk=cameo.pk).update(voice_status=Cameo.VoiceStatus.READY, voice_use=True)
    cameo.refresh_from_db()
    author = cameo.owner
    alone = generation_with(author, [cameo])
    assert voice_cameo_for(alone) == cameo

    other = make_cameo(make_user("bob"), permission=Cameo.Permission.EVERYONE)
    Cameo.objects.filter(pk=other.pk).update(voice_status=Cameo.VoiceStatus.READY, voice_use=True)
    two_people = generation_with(author, [cameo, other])
    assert voice_cameo_for(two_people) is None  # no diarization: nobody's voice is used

    Cameo.objects.filter(pk=cameo.pk).update(voice_use=False)
    assert voice_cameo_for(alone) is None
