import re

import pytest

from tests.browser.session import log_in
from tests.conftest import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_create_a_video_watch_progress_and_see_the_result(live_site, page, make_user, rq_queue, worker):
    make_user("maker")
    log_in(page, live_site, "maker")
    page.goto(f"{live_site}/create/")
    page.fill("#id_prompt", "a paper boat in a rain gutter, rain and distant thunder")
    page.select_option("#id_seconds", "4")
    page.click("form#create-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/g/[0-9a-f]+/$"))

    # The socket is open and the bar moves while the worker generates. (Polled from Python:
    # wait_for_function evaluates strings, which the site's CSP rightly forbids.)
    page.locator("body[data-socket=open]").wait_for()
    widths = set()

    def bar_moved() -> bool:
        if page.locator("[data-testid=result-video]").count():
            return True
        style = page.locator(".bar").first.get_attribute("style") or ""
        widths.add(style)
        return "width" in style and not style.replace(" ", "").startswith("width:0%")

    wait_for(bar_moved, timeout=180, interval=0.05, message="the progress bar to move")
    video = page.locator("[data-testid=result-video]")
    video.wait_for(timeout=180_000)
    assert any("width" in w and "width: 0%" not in w for w in widths), widths
    wait_for(
        lambda: page.locator("video").evaluate("v => v.readyState >= 1"), timeout=30, message="video metadata"
    )
    duration = page.locator("video").evaluate("v => v.duration")
    assert abs(duration - 4) < 0.3
