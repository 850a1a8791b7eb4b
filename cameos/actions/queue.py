"""The CPU queue that checks recordings and voice readings."""

import logging

from django.conf import settings

from cameos.errors import CameoRefused

log = logging.getLogger(__name__)


def ensure_queue() -> None:
    import django_rq
    from redis.exceptions import RedisError

    try:
        django_rq.get_queue(settings.CPU_QUEUE).connection.ping()
    except (RedisError, OSError) as exc:
        raise CameoRefused("Checking recordings is unavailable right now. Please try again shortly.") from exc


QUEUE_DOWN_REASON = "Checking recordings is unavailable right now. Please try again shortly."


def enqueue_check(job: str, cameo_id: int) -> bool:
    """Queue a cameo check job on the CPU queue; False (logged) when Redis refuses it."""
    import django_rq
    from redis.exceptions import RedisError

    try:
        django_rq.get_queue(settings.CPU_QUEUE).enqueue(
            job, cameo_id, job_timeout=settings.CAMEO_ANALYSIS_TIMEOUT, result_ttl=3600, failure_ttl=86400
        )
    except (RedisError, OSError):
        log.warning("could not queue %s for cameo %s", job, cameo_id, exc_info=True)
        return False
    return True
