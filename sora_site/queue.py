"""Putting jobs on the RQ queues, and what happens when Redis can't be reached: the one place the
site enqueues (generation's GPU jobs, cameo checks, re-checks, embeddings, webhook deliveries).

Two kinds of callers: those that must refuse when the queue is down (`ensure_available`, `enqueue`
raise QueueUnavailable, or the caller's subclass of it, with a message for the person), and those
for which a lost job only delays something a sweeper or command catches up on (`enqueue_or_log`
logs and returns False). Enqueue after the caller's transaction commits (`transaction.on_commit`).
"""

import logging

import django_rq
from django.db import transaction
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job

log = logging.getLogger(__name__)

UNAVAILABLE = "This is unavailable right now. Please try again shortly."


class QueueUnavailable(Exception):
    """Redis (the job queue) can't be reached: nothing can be queued right now."""


def get_queue(queue: str | Queue) -> Queue:
    return django_rq.get_queue(queue) if isinstance(queue, str) else queue


def ensure_available(
    queue: str | Queue, *, error: type[Exception] = QueueUnavailable, message: str = UNAVAILABLE
) -> None:
    """Raise `error(message)` unless Redis answers a ping."""
    try:
        get_queue(queue).connection.ping()
    except (RedisError, OSError) as exc:
        raise error(message) from exc


def enqueue(
    queue: str | Queue,
    func: str,
    *args,
    error: type[Exception] = QueueUnavailable,
    message: str = UNAVAILABLE,
    **options,
) -> str:
    """Queue `func(*args)` (RQ `options`: job_timeout, result_ttl...) and return the job id;
    raise `error(message)` when Redis refuses it."""
    try:
        return get_queue(queue).enqueue(func, *args, **options).id
    except (RedisError, OSError) as exc:
        raise error(message) from exc


def enqueue_or_log(queue: str | Queue, func: str, *args, **options) -> bool:
    """Queue `func(*args)` when a lost job can wait: False (logged) when Redis refuses it."""
    try:
        get_queue(queue).enqueue(func, *args, **options)
    except (RedisError, OSError):
        log.warning("could not queue %s%s", func, args, exc_info=True)
        return False
    return True


def cancel_on_commit(queue: str | Queue, job_id: str) -> None:
    """Drop a job that hasn't started once the caller's transaction commits (at once outside one):
    a rolled-back cancel must leave the job queued. The row's status is what really counts."""
    if not job_id:
        return
    transaction.on_commit(lambda: _cancel_now(queue, job_id))


def _cancel_now(queue: str | Queue, job_id: str) -> None:
    try:
        Job.fetch(job_id, connection=get_queue(queue).connection).cancel()
    except Exception:  # noqa: BLE001 - the job may be gone already; the worker's claim would fail anyway
        pass


def job_exists(queue: str | Queue, job_id: str, *, error: type[Exception] = QueueUnavailable) -> bool:
    """Whether Redis still holds this job. Raises `error` when Redis is down."""
    try:
        return bool(job_id) and Job.exists(job_id, connection=get_queue(queue).connection)
    except (RedisError, OSError) as exc:
        raise error("The job queue is unreachable.") from exc
