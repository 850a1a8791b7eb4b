"""The RQ side of generation: enqueueing, cancelling, and asking whether Redis is up."""

import django_rq
from django.conf import settings
from django.db import transaction
from redis.exceptions import RedisError


class GenerationUnavailable(Exception):
    """Redis (the job queue) can't be reached: nothing can be queued right now."""


def gpu_queue():
    return django_rq.get_queue(settings.GENERATION_QUEUE)


def ensure_queue_available() -> None:
    try:
        gpu_queue().connection.ping()
    except (RedisError, OSError) as exc:
        raise GenerationUnavailable(
            "Video generation is unavailable right now. Please try again shortly."
        ) from exc


def enqueue_generation(generation_id: int) -> str:
    try:
        job = gpu_queue().enqueue(
            "generation.jobs.run_generation",
            generation_id,
            job_timeout=settings.GENERATION_JOB_TIMEOUT,
            result_ttl=3600,
            failure_ttl=86400,
        )
    except (RedisError, OSError) as exc:
        raise GenerationUnavailable(
            "Video generation is unavailable right now. Please try again shortly."
        ) from exc
    return job.id


def cancel_queued_job(job_id: str) -> None:
    """Drop a job that hasn't started from Redis once the caller's transaction commits (at once
    outside one): a rolled-back cancel must leave the job queued. The row's status is what really
    counts."""
    if not job_id:
        return
    transaction.on_commit(lambda: _cancel_now(job_id))


def _cancel_now(job_id: str) -> None:
    try:
        from rq.job import Job

        Job.fetch(job_id, connection=gpu_queue().connection).cancel()
    except Exception:  # noqa: BLE001 - the job may be gone already; the worker's claim would fail anyway
        pass


def job_exists(job_id: str) -> bool:
    """Whether Redis still holds this job. Raises GenerationUnavailable when Redis is down."""
    from rq.job import Job

    try:
        return bool(job_id) and Job.exists(job_id, connection=gpu_queue().connection)
    except (RedisError, OSError) as exc:
        raise GenerationUnavailable("The job queue is unreachable.") from exc
