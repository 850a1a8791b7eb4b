"""Generation quotas: per rolling 24 hours, lower for teens, failures and refusals free; the API
answers a used-up quota with 429."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ApiToken
from generation import actions as generation_actions
from generation.errors import PolicyRefused, QuotaExceeded
from generation.models import Generation
from moderation import quotas
from moderation.models import PolicyDecision

pytestmark = pytest.mark.django_db


def made(owner, count: int, *, status=Generation.Status.SUCCEEDED, hours_ago: float = 1) -> None:
    created = timezone.now() - timedelta(hours=hours_ago)
    Generation.objects.bulk_create(
        Generation(owner=owner, prompt="a kite", seconds=1, seed=1, status=status, created=created)
        for _ in range(count)
    )


def test_daily_quota_counts_the_last_24_hours(user, settings):
    settings.QUOTA_DAILY_GENERATIONS = 3
    made(user, 2)
    made(user, 5, hours_ago=25)  # yesterday's don't count
    quotas.check_generation_quota(user)
    made(user, 1)
    with pytest.raises(QuotaExceeded) as caught:
        quotas.check_generation_quota(user)
    message = str(caught.value)
    assert "3 videos in the last 24 hours" in message and "the daily limit is 3" in message
    assert "You can make another after" in message


def test_teens_have_a_lower_quota(teen, user, settings):
    settings.QUOTA_DAILY_GENERATIONS = 5
    settings.QUOTA_DAILY_GENERATIONS_TEEN = 2
    made(teen, 2)
    made(user, 2)
    quotas.check_generation_quota(user)
    with pytest.raises(QuotaExceeded) as caught:
        quotas.check_generation_quota(teen)
    assert "for teen accounts is 2" in str(caught.value)


def test_failed_generations_dont_count_but_cancelled_ones_do(user, settings):
    settings.QUOTA_DAILY_GENERATIONS = 2
    made(user, 5, status=Generation.Status.FAILED)
    made(user, 1, status=Generation.Status.CANCELLED)
    assert quotas.generations_left(user) == 1
    quotas.check_generation_quota(user)


def test_staff_are_not_limited(staff_user, settings):
    settings.QUOTA_DAILY_GENERATIONS = 1
    made(staff_user, 3)
    quotas.check_generation_quota(staff_user)


def test_a_refused_prompt_costs_no_quota_and_stores_nothing(user, settings, rq_queue):
    settings.QUOTA_DAILY_GENERATIONS = 1
    for _ in range(3):
        with pytest.raises(PolicyRefused):
            generation_actions.start_generation(
                user, prompt="a beheading in the town square", seconds=1, orientation="portrait"
            )
    assert Generation.objects.count() == 0
    assert PolicyDecision.objects.filter(owner=user, outcome="refused").count() == 3
    generation = generation_actions.start_generation(
        user, prompt="a cat playing piano in the rain", seconds=1, orientation="portrait"
    )
    assert generation.pk and quotas.generations_left(user) == 0
    with pytest.raises(QuotaExceeded):
        generation_actions.start_generation(user, prompt="a second cat", seconds=1, orientation="portrait")


def test_the_web_form_shows_the_refusal_category(user_client, rq_queue):
    response = user_client.post(
        "/create/", {"prompt": "gory torture scene", "seconds": 4, "orientation": "portrait"}
    )
    assert response.status_code == 400
    assert "graphic violence" in response.content.decode()
    assert Generation.objects.count() == 0


def test_api_answers_a_used_up_quota_with_429(user, client, settings, rq_queue):
    settings.QUOTA_DAILY_GENERATIONS = 1
    made(user, 1)
    _, raw = ApiToken.issue(user, "test")
    response = client.post(
        "/v1/videos",
        {"prompt": "a cat playing piano", "seconds": "4"},
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert response.status_code == 429
    assert "daily limit" in response.json()["error"]["message"]
