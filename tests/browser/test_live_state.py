"""A page shows the truth even when a job's last event was sent before its WebSocket opened:
site.js re-reads still-changing fragments once the socket is listening."""

import pytest
from django.utils import timezone

from generation.events import publish
from generation.models import Generation
from tests.browser.session import log_in
from tests.conftest import queued_generation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_job_that_finishes_before_the_socket_opens_shows_finished(live_site, page, make_user):
    maker = make_user("maker")
    generation = queued_generation(maker)
    log_in(page, live_site, "maker")

    def finish_before_the_script_runs(route):
        # The page is rendered (queued) but site.js hasn't opened its socket yet: the job finishes
        # now and its event reaches nobody.
        Generation.objects.filter(pk=generation.pk).update(
            status=Generation.Status.FAILED,
            stage=Generation.Stage.DONE,
            finished=timezone.now(),
            error="The worker making this video stopped unexpectedly. You can retry it.",
        )
        generation.refresh_from_db()
        publish(maker.pk, generation.event())
        route.continue_()

    page.route("**/static/js/site.js*", finish_before_the_script_runs)
    response = page.goto(f"{live_site}{generation.get_absolute_url()}")
    assert 'data-status="queued"' in response.text()  # what the server rendered
    job = page.locator(f"[data-generation='{generation.code}']")

    page.locator(f"[data-generation='{generation.code}'][data-status=failed]").wait_for(state="attached")
    assert page.get_by_role("button", name="Retry").is_visible()
    assert "stopped unexpectedly" in job.inner_text()
