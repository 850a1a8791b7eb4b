"""The API docs page in a real Chromium, under the site's Content-Security-Policy."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_docs_page_renders_every_operation_without_a_cdn(live_site, page):
    failed_scripts = []
    page.on("pageerror", lambda error: failed_scripts.append(str(error)))
    page.on("requestfailed", lambda request: failed_scripts.append(request.url))
    page.goto(live_site + "/v1/docs")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "Sora Site API" in page.locator(".swagger-ui .info .title").inner_text()
    assert page.locator(".opblock-summary-path").count() == 12  # 10 video operations, 2 model ones
    assert failed_scripts == []
