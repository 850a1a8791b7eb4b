"""A job leaving the queue tells everyone behind it their new place and wait, at a fixed cost."""

from datetime import timedelta

import pytest
from django.utils import timezone

from generation import jobs
from tests.conftest import queued_generation


@pytest.mark.django_db
@pytest.mark.parametrize("queued", [2, 8])
def test_queue_positions_cost_two_queries_however_many_wait(
    make_user, django_assert_num_queries, queued, monkeypatch
):
    owner = make_user()
    now = timezone.now()
    queued_generation(
        owner, prompt="done", seed=1, status="succeeded", started=now - timedelta(seconds=40), finished=now
    )
    for _ in range(queued):
        queued_generation(owner)
    sent = []
    monkeypatch.setattr(jobs, "publish", lambda user_id, event: sent.append(event))

    with django_assert_num_queries(2):  # the queued rows, and the mean run time once
        jobs._publish_queue_positions()

    assert [e["stage_text"] for e in sent] == [
        f"Queued: position {n}, about {40 * n} s" for n in range(1, queued + 1)
    ]


@pytest.mark.django_db
def test_without_history_the_queue_shows_places_without_a_wait(
    make_user, monkeypatch, django_assert_num_queries
):
    owner = make_user()
    for _ in range(3):
        queued_generation(owner)
    sent = []
    monkeypatch.setattr(jobs, "publish", lambda user_id, event: sent.append(event))
    with django_assert_num_queries(2):
        jobs._publish_queue_positions()
    assert [e["stage_text"] for e in sent] == [f"Queued: position {n}" for n in (1, 2, 3)]
