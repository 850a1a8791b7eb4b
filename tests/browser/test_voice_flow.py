"""Give a cameo its owner's voice in a real Chromium: the fake microphone reads the passage, the
page records and uploads it, a real worker checks it, and the page shows the voice switched on."""

import pytest

from cameos.liveness.passages import PASSAGES
from cameos.liveness.voice import voice_embedding
from cameos.models import Cameo
from tests import media_factory
from tests.browser.session import log_in
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, make_cameo, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

READING = (
    "When the morning fog lifts over the harbour, the fishing boats come home one by one. "
    "The captain of the red boat always waves to the children on the pier."
)


def test_read_the_passage_and_see_the_voice_switched_on(live_site, chromium, make_user, worker, tmp_path):
    ada = make_user("ada")
    digits = media_factory.speech_samples("four, seven, one, nine", "rms", 16_000)
    cameo = make_cameo(ada, voice_embedding=voice_embedding(digits))
    wav = media_factory.speech_wav(READING, tmp_path / "reading.wav", "rms", sample_rate=48_000)
    browser = chromium.browser_type.launch(
        executable_path=CHROMIUM,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav}",
        ],
    )
    try:
        context = browser.new_context(viewport={"width": 420, "height": 860})
        context.set_default_timeout(60_000)
        page = context.new_page()
        log_in(page, live_site, "ada")
        page.goto(f"{live_site}{cameo.get_absolute_url()}")
        section = page.get_by_test_id("voice")
        assert section.get_attribute("data-voice-status") == "none"
        assert page.get_by_test_id("passage").inner_text().strip() in PASSAGES
        page.locator("body[data-socket=open]").wait_for(state="attached")

        page.click("[data-voice-start]")
        timer = page.locator("[data-voice-timer]")
        wait_for(lambda: "press Done" in timer.inner_text(), timeout=30, message="the minimum reading time")
        page.wait_for_timeout(2000)
        page.click("[data-voice-stop]")

        # Upload, reload while checking, then the worker's verdict reloads the page again.
        page.locator(
            "[data-testid=voice][data-voice-status=ready], [data-testid=voice][data-voice-status=rejected]"
        ).wait_for(state="attached", timeout=180_000)
        cameo.refresh_from_db()
        assert cameo.voice_status == Cameo.VoiceStatus.READY, (
            cameo.voice_reasons,
            cameo.voice_checks,
            worker.output()[-2000:],
        )
        assert page.get_by_test_id("voice-use").inner_text() == "on"
        assert cameo.voice_checks["upload"]["container"] in ("webm", "matroska", "ogg")

        page.click("[data-testid=voice-use-form] button")
        page.get_by_text("Your voice won't be used in new videos.").wait_for()
        assert page.get_by_test_id("voice-use").inner_text() == "off"
    finally:
        browser.close()
