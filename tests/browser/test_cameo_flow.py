"""Record a cameo in a real Chromium whose fake camera and microphone play test files: the page
gets a challenge, counts down, records with MediaRecorder, uploads, and a real worker's verdict
arrives over the WebSocket."""

import json

import pytest
from playwright.sync_api import expect

from cameos.models import Cameo, CameoMedia, Challenge
from tests import media_factory
from tests.browser.session import log_in
from tests.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_record_upload_and_see_the_verdict(live_site, chromium, make_user, worker, tmp_path):
    make_user("ada")
    # Chromium loops the files from the moment the camera opens, which the page does as
    # recording starts; a still, silent tail longer than the recording keeps the loop out of it.
    y4m, wav = media_factory.make_fake_capture_files(tmp_path, "4719", ("left", "right"), tail=7.0)
    browser = chromium.browser_type.launch(
        executable_path=CHROMIUM,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={y4m}",
            f"--use-file-for-fake-audio-capture={wav}",
        ],
    )
    try:
        context = browser.new_context(viewport={"width": 420, "height": 860})
        # Generous: the analysis worker and two browsers share a small machine with the tests.
        context.set_default_timeout(60_000)
        page = context.new_page()
        frames = []
        page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(payload)))
        log_in(page, live_site, "ada")
        page.goto(f"{live_site}/cameos/")
        page.get_by_test_id("record-link").click()
        page.locator("body[data-socket=open]").wait_for(state="attached")

        # The server issues a random challenge; the fake camera can only say 4 7 1 9 while
        # turning left then right, so the row (and the page) get that one.
        def issue_known_challenge(route):
            response = route.fetch()
            route.fulfill(response=response, body=fix_challenge(response.text()))

        page.route("**/cameos/record/challenge", issue_known_challenge)
        page.click("[data-start]")

        countdown = page.locator("[data-countdown-text]")
        countdown.wait_for(state="visible")
        assert countdown.inner_text().startswith("Recording in")
        assert page.locator("[data-digits]").inner_text() == "4 7 1 9"
        page.locator("#cameo-recorder[data-state=recording]").wait_for(state="attached")
        page.locator("[data-timer]").wait_for(state="visible")
        # The challenge stays on the picture while recording, the turns as the person's own sides.
        prompt = page.get_by_test_id("recording-prompt")
        assert prompt.is_visible() and "Say 4 7 1 9" in prompt.inner_text()
        assert "then look ← left, then right →" in prompt.inner_text()
        expect(page.locator("[data-timer-text]")).not_to_have_text("0:00", timeout=20_000)

        verdict = page.get_by_test_id("cameo-verdict")
        verdict.wait_for(timeout=60_000)
        # The page's own CSP forbids eval, so no wait_for_function: wait on the element's state.
        page.locator(
            "[data-testid=cameo-verdict][data-status=active], [data-testid=cameo-verdict][data-status=rejected]"
        ).wait_for(state="attached", timeout=240_000)
        status = verdict.get_attribute("data-status")
        reasons = verdict.locator("[data-cameo-reasons]").inner_text()
        cameo = Cameo.objects.get(owner__handle="ada")
        assert status == "active", (reasons, cameo.reasons, worker.output()[-3000:])
        assert verdict.locator("[data-cameo-status]").inner_text() == "Verified"
        assert page.get_by_text("Open my cameo").is_visible()
        expect(page.locator("[data-start]")).to_be_hidden()  # a verified cameo isn't recorded again
        # The verdict came over the WebSocket, not from a reload.
        pushed = [json.loads(f) for f in frames if isinstance(f, str) and '"cameo"' in f]
        assert any(e.get("kind") == "cameo" and e.get("status") == "active" for e in pushed)

        assert cameo.status == Cameo.Status.ACTIVE
        assert CameoMedia.objects.filter(cameo=cameo, role="recording").exists()
        assert CameoMedia.objects.filter(cameo=cameo, role="reference").exists()
        page.get_by_text("Open my cameo").click()
        page.wait_for_url(f"{live_site}{cameo.get_absolute_url()}")
        assert page.get_by_test_id("cameo-verdict").get_attribute("data-status") == "active"
    finally:
        browser.close()


def fix_challenge(body: str) -> str:
    """Set the just-issued challenge to the one the fake camera performs (row and response)."""
    data = json.loads(body)
    Challenge.objects.filter(nonce=data["nonce"]).update(digits="4719", turns=["left", "right"])
    data.update(digits="4719", spoken="4 7 1 9", turns=["left", "right"])
    return json.dumps(data)
