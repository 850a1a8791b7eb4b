"""Generation's GPU queue: its jobs go through the site's one queue module (sora_site.queue)."""

from django.conf import settings

from sora_site import queue

UNAVAILABLE = "Video generation is unavailable right now. Please try again shortly."


class GenerationUnavailable(queue.QueueUnavailable):
    """Redis (the job queue) can't be reached: nothing can be queued right now."""


def gpu_queue():
    return queue.get_queue(settings.GENERATION_QUEUE)


def ensure_queue_available() -> None:
    queue.ensure_available(gpu_queue(), error=GenerationUnavailable, message=UNAVAILABLE)


def enqueue_generation(generation_id: int) -> str:
    return queue.enqueue(
        gpu_queue(),
        "generation.jobs.run_generation",
        generation_id,
        error=GenerationUnavailable,
        message=UNAVAILABLE,
        job_timeout=settings.GENERATION_JOB_TIMEOUT,
        result_ttl=3600,
        failure_ttl=86400,
    )


def cancel_queued_job(job_id: str) -> None:
    """Drop a job that hasn't started from Redis once the caller's transaction commits."""
    queue.cancel_on_commit(gpu_queue(), job_id)


def job_exists(job_id: str) -> bool:
    """Whether Redis still holds this job. Raises GenerationUnavailable when Redis is down."""
    return queue.job_exists(gpu_queue(), job_id, error=GenerationUnavailable)
