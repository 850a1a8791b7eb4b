"""Generation quotas: how many videos a person may start in a rolling 24 hours.

What counts: every Generation row the person started in the last 24 hours, whatever became of it,
except the failed ones. A failure is the site's doing (a crashed worker, an engine error, a cameo
whose consent was withdrawn meanwhile), so it shouldn't cost the person; a cancelled video
counts, since it held a GPU until it was stopped. A request the prompt policy refuses writes no
row, so it costs nothing either.

How many may run at once is generation's own limit (GENERATION_MAX_ACTIVE_PER_USER, checked in
start_generation under a row lock).
"""

import math
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from generation.errors import QuotaExceeded
from generation.models import Generation

WINDOW = timedelta(hours=24)


def daily_limit(owner) -> int:
    return settings.QUOTA_DAILY_GENERATIONS_TEEN if owner.is_teen else settings.QUOTA_DAILY_GENERATIONS


def counted_generations(owner):
    """The rows that count against `owner`'s quota now (uses generation_owner_created_idx)."""
    since = timezone.now() - WINDOW
    # Failed jobs and outputs blocked by the output check cost nothing.
    return (
        Generation.objects.filter(owner=owner, created__gte=since)
        .exclude(status=Generation.Status.FAILED)
        .exclude(check_status=Generation.Check.BLOCKED)
    )


def generations_left(owner) -> int:
    return max(0, daily_limit(owner) - counted_generations(owner).count())


def check_generation_quota(owner) -> None:
    """Raise generation.errors.QuotaExceeded when `owner` has used up their 24-hour quota.

    The message says when the next video can be made. One COUNT query, plus one more when refusing.
    Staff are not limited.
    """
    if owner.is_staff:
        return
    limit = daily_limit(owner)
    used = counted_generations(owner).count()
    if used < limit:
        return
    oldest = counted_generations(owner).order_by("created").values_list("created", flat=True)[used - limit]
    ready = timezone.localtime(oldest + WINDOW)
    teen = " for teen accounts" if owner.is_teen else ""
    raise QuotaExceeded(
        f"You've made {used} videos in the last 24 hours; the daily limit{teen} is {limit}. "
        f"You can make another after {ready:%H:%M %Z} ({ready:%b %d}).",
        limit=limit,
        retry_after=max(1, math.ceil((oldest + WINDOW - timezone.now()).total_seconds())),
    )
