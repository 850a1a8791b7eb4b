import re

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def log_in(page, live_site, handle: str, password: str = "pw-secret-123") -> None:
    page.goto(f"{live_site}/accounts/login/")
    page.fill("input[name=login]", handle)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{live_site}/")


def test_create_a_video_watch_progress_and_see_the_result(live_site, page, make_user, rq_queue, worker):
    make_user("maker")
    log_in(page, live_site, "maker")
    page.goto(f"{live_site}/create/")
    page.fill("#id_prompt", "a paper boat in a rain gutter, rain and distant thunder")
    page.select_option("#id_seconds", "4")
    page.click("form#create-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/g/[0-9a-f]+/$"))

    # The socket is open and the bar moves while the worker generates.
    page.wait_for_function("document.body.dataset.socket === 'open'")
    page.wait_for_function(
        "(() => { const b = document.querySelector('.bar'); return b && parseFloat(b.style.width) > 0; })()",
        timeout=180_000,
    )
    stage = page.locator("[data-stage]").inner_text()
    assert stage.startswith(("Generating", "Loading", "Decoding", "Encoding", "Queued", "Finishing"))

    video = page.locator("[data-testid=result-video]")
    video.wait_for(timeout=180_000)
    duration = page.wait_for_function(
        "(() => { const v = document.querySelector('video'); return v && v.readyState >= 1 && v.duration; })()"
    ).json_value()
    assert abs(duration - 4) < 0.3
