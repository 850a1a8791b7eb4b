"""Faults on real processes: Redis stopped and restarted, daphne restarted under a watching browser,
and the pipeline running out of memory.

Each live test gets its own stack (tests/reliability/live_stack.py): a private redis-server, one
daphne and, where needed, a real RQ worker, so stopping Redis never disturbs other test runs.

Covered elsewhere, not repeated here:
- a worker killed with SIGKILL mid-job: tests/generation/test_worker.py
  (test_a_killed_worker_leaves_no_job_stuck_running; the sweeper fails the job with a message);
- storage full at export: tests/provenance/test_site.py
  (test_storage_failure_at_export_is_a_clear_error_and_leaves_the_draft);
- Redis dying between the availability check and the enqueue: tests/generation/test_views.py
  (test_redis_down_at_submit_gives_a_clear_message_and_no_row).
"""

import json
import os
import re
import signal

import pytest
from playwright.sync_api import expect

from accounts.models import ApiToken
from feed import actions as feed_actions
from generation.models import Generation
from tests.conftest import wait_for
from tests.reliability.live_stack import Stack, Visitor, session_key_for

pytestmark = [pytest.mark.slow]

# Generation rows reach a final state within this many seconds on a busy 2-core machine (a cold
# worker first imports torch and loads the model).
JOB_TIMEOUT = 240


def create_form(**fields) -> dict:
    data = {
        "prompt": "rain on a tin roof, a cat watching from the window",
        "seconds": "1",
        "orientation": "portrait",
        "seed": "11",
        "shots-TOTAL_FORMS": "0",
        "shots-INITIAL_FORMS": "0",
    }
    data.update(fields)
    return data


def submit(visitor: Visitor, **fields) -> Generation:
    """Submit the create form to the live site; returns the new row."""
    answer = visitor.post("/create/", create_form(**fields))
    assert answer.status == 302, (answer.status, answer.body[-2000:])
    code = re.search(r"/g/([^/]+)/$", answer.headers["Location"]).group(1)
    return Generation.objects.get(code=code)


def socket_state(page) -> str | None:
    return page.locator("body").get_attribute("data-socket")


def wait_for_socket(page, state: str, timeout: float) -> None:
    # Polled from Python: wait_for_function evaluates strings, which the site's CSP forbids.
    wait_for(lambda: socket_state(page) == state, timeout=timeout, interval=0.1, message=f"socket {state}")


def mark_page(page) -> None:
    """Tag the live document: if the page reloads, the tag is gone."""
    page.locator("body").evaluate("body => { body.dataset.faultMarker = 'same-document'; }")


def page_was_not_reloaded(page) -> bool:
    return page.locator("body").get_attribute("data-fault-marker") == "same-document"


def log_in(page, stack: Stack, user) -> None:
    page.context.add_cookies([{"name": "sessionid", "value": session_key_for(user), "url": stack.url}])


@pytest.fixture
def stack(transactional_db, tiny_model, tmp_path):
    """A private stack, not yet started (each test starts what it needs)."""
    stack = Stack(tmp_path)
    yield stack
    stack.stop()


# --- Redis stopped --------------------------------------------------------------------------


def test_with_redis_stopped_pages_render_and_generating_says_unavailable(
    stack,
    make_user,
    make_post,
):
    stack.start()
    alice, bob = make_user("alice"), make_user("bob")
    post = make_post(alice, caption="Corgi at sunset")
    feed_actions.follow(bob, alice)
    token = ApiToken.issue(bob, "faults")[1]
    visitor = Visitor(stack.url, session_key_for(bob))

    stack.redis.stop()

    pages = {
        "/": "Corgi at sunset",
        "/following/": "Corgi at sunset",
        "/@alice": "@alice",
        post.get_absolute_url(): "Corgi at sunset",
        "/drafts/": "Drafts",
        "/create/": 'name="prompt"',
    }
    for path, text in pages.items():
        answer = visitor.get(path)
        assert answer.status == 200, (path, answer.status, answer.body[-1500:])
        assert text in answer.body, path

    # Likes and comments notify the author over the channel layer, which is best effort.
    liked = visitor.post(f"/p/{post.code}/like", {"like": "1"}, headers={"HX-Request": "true"})
    assert liked.status == 200, liked.body[-1500:]
    commented = visitor.post(f"/p/{post.code}/comments", {"body": "still works without Redis"})
    assert commented.status == 302, commented.body[-1500:]
    assert "still works without Redis" in visitor.get(post.get_absolute_url()).body

    refused = visitor.post("/create/", create_form())
    assert refused.status == 400
    assert "Video generation is unavailable right now" in refused.body
    assert not Generation.objects.filter(owner=bob).exists()

    api = visitor.post(
        "/v1/videos",
        {"prompt": "waves on a pebble beach", "seconds": "4"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert api.status == 503 and api.headers.get("Retry-After") == "10"
    error = json.loads(api.body)["error"]
    assert error["code"] == "service_unavailable" and "unavailable" in error["message"]
    assert not Generation.objects.filter(owner=bob).exists()
    # Nothing answered 500 (the log holds the channel layer's best-effort publish warnings).
    log = stack.daphne.output()
    assert re.search(r'"POST /v1/videos" 503 ', log)  # daphne's access log: '"GET /path" 200 1234'
    assert not re.search(r'"[A-Z]+ [^"]*" 5(?!03 )\d\d ', log), log[-3000:]


def test_after_redis_restarts_new_jobs_run_and_open_pages_reconnect_by_themselves(stack, make_user, page):
    stack.start(workers=1)
    bob = make_user("bob")
    log_in(page, stack, bob)
    page.goto(f"{stack.url}/drafts/")
    wait_for_socket(page, "open", timeout=30)
    mark_page(page)
    stack.wait_for_workers()
    # Record what the page hears from now on (site.js re-dispatches every server event).
    page.locator("body").evaluate(
        """body => document.addEventListener("sora:event", (e) => {
            if (e.detail.kind === "generation") body.dataset.heard = e.detail.code + " " + e.detail.status;
        })"""
    )

    stack.redis.stop()
    wait_for_socket(page, "closed", timeout=30)
    refused = Visitor(stack.url, session_key_for(bob)).post("/create/", create_form())
    assert refused.status == 400 and "unavailable" in refused.body

    stack.redis.start()  # same socket, empty: group memberships and queues are gone
    # site.js retries with a backoff capped at 10 s.
    wait_for_socket(page, "open", timeout=40)

    generation = submit(Visitor(stack.url, session_key_for(bob)))
    wait_for(
        lambda: Generation.objects.get(pk=generation.pk).is_final,
        timeout=JOB_TIMEOUT,
        message="the job to finish",
    )
    generation.refresh_from_db()
    assert generation.status == "succeeded", generation.error_detail + stack.logs()

    # The page that was open through the outage hears the new job live: its events and the
    # "video ready" notification on the bell, without being reloaded.
    wait_for(
        lambda: page.locator("body").get_attribute("data-heard") == f"{generation.code} succeeded",
        timeout=30,
        message="the finished event on the open page",
    )
    expect(page.locator("#unread-count")).to_have_text("1")
    assert page_was_not_reloaded(page)


# --- daphne restarted -----------------------------------------------------------------------


def test_a_page_watching_a_job_through_a_daphne_restart_shows_the_true_final_state(stack, make_user, page):
    stack.start(workers=1)
    worker = stack.workers[0]
    bob = make_user("bob")
    generation = submit(Visitor(stack.url, session_key_for(bob)), seconds="4")

    # Hold the job mid-run: the worker claims it (then spends seconds loading the model), and we
    # freeze the worker process until daphne is down.
    wait_for(
        lambda: Generation.objects.filter(pk=generation.pk, status="running").exists(),
        timeout=JOB_TIMEOUT,
        interval=0.05,
        message="the worker to claim the job",
    )
    os.kill(worker.pid, signal.SIGSTOP)
    try:
        assert Generation.objects.get(pk=generation.pk).status == "running"
        log_in(page, stack, bob)
        page.goto(f"{stack.url}{generation.get_absolute_url()}")
        wait_for_socket(page, "open", timeout=30)
        expect(page.locator("[data-status-label]")).to_have_text("Running")
        expect(page.locator("[role=progressbar]")).to_be_visible()
        mark_page(page)
        stack.stop_daphne()
        wait_for_socket(page, "closed", timeout=30)
    finally:
        os.kill(worker.pid, signal.SIGCONT)

    # The job finishes while daphne is down: its progress and final events reach no one.
    wait_for(
        lambda: Generation.objects.get(pk=generation.pk).is_final,
        timeout=JOB_TIMEOUT,
        message="the job to finish",
    )
    generation.refresh_from_db()
    assert generation.status == "succeeded", generation.error_detail + stack.logs()
    assert not page.locator("[data-testid=result-video]").count()

    stack.start_daphne()
    # The page reconnects by itself and re-fetches its live fragment from the database.
    wait_for_socket(page, "open", timeout=40)
    expect(page.locator("[data-testid=result-video]")).to_be_visible(timeout=20_000)
    expect(page.locator("[role=progressbar]")).to_have_count(0)
    assert page_was_not_reloaded(page)


# --- the pipeline fails ---------------------------------------------------------------------


@pytest.mark.django_db
def test_running_out_of_memory_inside_the_pipeline_fails_the_job_with_a_memory_message(
    tiny_model, user, client, monkeypatch
):
    """The out-of-memory error comes from inside diffusers' transformer call, as on a real GPU;
    the worker's engine survives it and the next job succeeds."""
    import torch

    from generation.jobs import get_worker_engine, run_generation
    from tests.conftest import queued_generation

    engine = get_worker_engine()
    engine.load()

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    with monkeypatch.context() as patch:
        patch.setattr(engine._pipe.transformer, "forward", out_of_memory)
        generation = queued_generation(user)
        assert run_generation(generation.pk) == "failed"

    generation.refresh_from_db()
    assert generation.status == "failed" and generation.is_final
    assert "ran out of memory" in generation.error
    assert "OutOfMemoryError" in generation.error_detail  # the traceback, for staff
    assert not generation.video
    client.force_login(user)
    html = client.get(generation.get_absolute_url()).content.decode()
    assert "ran out of memory" in html and "Retry" in html

    after = queued_generation(user, seed=99)
    assert run_generation(after.pk) == "succeeded"
