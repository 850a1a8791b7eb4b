"""The CPU queue that checks recordings and voice readings (through the site's queue module)."""

from django.conf import settings

from cameos.errors import CameoRefused
from sora_site import queue

QUEUE_DOWN_REASON = "Checking recordings is unavailable right now. Please try again shortly."


def ensure_queue() -> None:
    queue.ensure_available(settings.CPU_QUEUE, error=CameoRefused, message=QUEUE_DOWN_REASON)


def enqueue_check(job: str, cameo_id: int) -> bool:
    """Queue a cameo check job on the CPU queue; False (logged) when Redis refuses it."""
    return queue.enqueue_or_log(
        settings.CPU_QUEUE,
        job,
        cameo_id,
        job_timeout=settings.CAMEO_ANALYSIS_TIMEOUT,
        result_ttl=3600,
        failure_ttl=86400,
    )
