"""A real Chromium records our fake camera and microphone with MediaRecorder; liveness passes.

This is the path a cameo owner's browser takes (getUserMedia + MediaRecorder, WebM without a
duration header), with ``media_factory.make_fake_capture_files`` standing in for the person.
"""

import base64

import pytest

from cameos.liveness import Challenge, analyse_recording
from tests import media_factory

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"  # the session fixture skips when it is missing

PAGE = """<!doctype html><html><body><script>
async function record(ms, mimeType) {
  const stream = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}, audio: true});
  const recorder = new MediaRecorder(stream, {mimeType});
  const chunks = [];
  recorder.ondataavailable = (e) => chunks.push(e.data);
  const stopped = new Promise((resolve) => (recorder.onstop = resolve));
  recorder.start(250);
  await new Promise((resolve) => setTimeout(resolve, ms));
  recorder.stop();
  await stopped;
  stream.getTracks().forEach((t) => t.stop());
  const bytes = new Uint8Array(await new Blob(chunks).arrayBuffer());
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}
</script></body></html>"""


@pytest.mark.parametrize("mime_type", ["video/webm;codecs=vp8,opus", "video/webm;codecs=vp9,opus"])
def test_chromium_mediarecorder_clip_of_fake_camera_passes(chromium, tmp_path, mime_type):
    y4m, wav = media_factory.make_fake_capture_files(tmp_path, "4719", ("left", "right"))
    seconds = len(media_factory.read_wav(wav)[0]) / media_factory.SAMPLE_RATE
    # The session's browser has no fake devices: launch one more through the same Playwright.
    browser = chromium.browser_type.launch(
        executable_path=CHROMIUM,
        args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={y4m}", f"--use-file-for-fake-audio-capture={wav}",
        ],
    )  # fmt: skip
    try:
        page = browser.new_page()
        # getUserMedia needs a secure context; http://localhost is one, served here without a server.
        page.route(
            "http://localhost/", lambda route: route.fulfill(status=200, content_type="text/html", body=PAGE)
        )
        page.goto("http://localhost/")
        # Chromium plays the files from the moment the camera opens and loops them: stop a second
        # before they end, inside the still, silent tail.
        encoded = page.evaluate("([ms, mime]) => record(ms, mime)", [int((seconds - 1.0) * 1000), mime_type])
    finally:
        browser.close()
    clip = tmp_path / "recorded.webm"
    clip.write_bytes(base64.b64decode(encoded))

    result = analyse_recording(clip, Challenge("4719", ("left", "right")))

    assert result.checks["media"]["declared_duration"] is None
    assert result.verified, (result.reasons, result.checks)
