"""Fifty simulated users on one daphne and two workers: no errors, no lost jobs, no lost events.

The load generator is bench/load_site.py (its standalone run lasts 3 minutes by default); here it
runs for LOAD_TEST_SECONDS (default 75 s) so CI's time stays reasonable. RELIABILITY.md records the
figures of both.
"""

import os

import pytest
from django.core.management import call_command

from bench.load_site import load_targets, make_load_users, run_load, wait_for_jobs
from tests.reliability.live_stack import Stack

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

USERS = 50
LOAD_SECONDS = float(os.environ.get("LOAD_TEST_SECONDS", "75"))
DRAIN_SECONDS = 300


def test_fifty_users_browse_like_comment_and_generate_with_no_errors_and_no_lost_jobs(tiny_model, tmp_path):
    call_command("seed_demo", users=40, posts=300, verbosity=0)
    users = make_load_users(USERS)
    targets = load_targets()
    assert len(targets.posts) > 200 and len(targets.handles) > 10

    stack = Stack(tmp_path).start()
    try:
        for _ in range(2):
            stack.start_worker(OMP_NUM_THREADS="1")
        stack.wait_for_workers()
        report = run_load(stack.url, users, targets, duration=LOAD_SECONDS, drain=DRAIN_SECONDS)
        statuses = wait_for_jobs(list(report.jobs), timeout=DRAIN_SECONDS)
    finally:
        logs = stack.logs(tail=1500)
        stack.stop()

    print(report.summary(statuses))  # the figures for RELIABILITY.md (`pytest -s` shows them)
    problems = report.problems(statuses)
    assert not problems, "\n".join([*problems[:40], report.summary(statuses), logs])
    # The run really exercised every part: pages, writes, and jobs through the workers.
    kinds = {sample.kind for sample in report.by_outcome("ok")}
    assert kinds >= {"for_you", "following", "profile", "post", "like", "comment", "generate", "job_page"}
    assert len(report.samples) > USERS * LOAD_SECONDS / 10
    assert len(report.jobs) >= 5
