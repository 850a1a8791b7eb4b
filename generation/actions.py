"""Verb-named operations on generations, shared by the web views, the API and remix."""

import random

from django.conf import settings
from django.core.files.base import File
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from generation import hooks, queue, signals
from generation.engine.capabilities import get_capabilities
from generation.errors import ConsentRefused, GenerationRefused, PolicyRefused, QuotaExceeded
from generation.events import publish
from generation.models import Generation
from generation.queue import GenerationUnavailable

__all__ = [
    "GenerationRefused",
    "GenerationUnavailable",
    "QuotaExceeded",
    "PolicyRefused",
    "ConsentRefused",
    "start_generation",
    "cancel_generation",
    "retry_generation",
    "delete_generation",
    "start_retake",
    "stop_generation",
]

MAX_SEED = 2**32 - 1
# How long to suggest waiting when all of a person's active slots are taken: a job's end isn't
# known in advance, and a short video on a GPU takes about this long.
ACTIVE_RETRY_AFTER = 10


def capabilities():
    return get_capabilities(settings.SORA_VIDEO_PROFILE)


def check_active_limit(owner: User) -> None:
    active = Generation.objects.filter(owner=owner).active().count()
    if active >= settings.GENERATION_MAX_ACTIVE_PER_USER:
        raise QuotaExceeded(
            f"You already have {active} videos in progress (the limit is "
            f"{settings.GENERATION_MAX_ACTIVE_PER_USER}). Wait for one to finish or cancel one.",
            limit=settings.GENERATION_MAX_ACTIVE_PER_USER,
            retry_after=ACTIVE_RETRY_AFTER,
        )


def start_generation(
    owner: User,
    *,
    prompt: str,
    seconds: int,
    orientation: str,
    seed: int | None = None,
    storyboard: list[dict] | None = None,
    source: Generation | None = None,
    source_image: File | None = None,
    cameo_codes: list[str] | None = None,
    retake: tuple[float, float] | None = None,
) -> Generation:
    """Check limits, cameo consent and prompt policy, write the row and enqueue it once the
    transaction commits. Used by the web form, the API and remix alike.

    Raises GenerationRefused (with a message for the person; PolicyRefused, QuotaExceeded and
    ConsentRefused say which rule) or GenerationUnavailable when the queue can't be reached; in
    every case nothing is stored.
    """
    queue.ensure_queue_available()
    storyboard = list(storyboard or [])
    if storyboard:
        seconds = sum(int(shot["seconds"]) for shot in storyboard)
        prompt = prompt or " / ".join(shot["prompt"] for shot in storyboard)
    texts = [prompt, *(shot["prompt"] for shot in storyboard)]
    cameos = hooks.cast().for_request(owner, texts, cameo_codes or [])
    hooks.checks().check_request(owner, texts, cameos)
    try:
        with transaction.atomic():
            # Serialise one user's submissions so two quick clicks can't both pass the limit.
            User.objects.select_for_update().filter(pk=owner.pk).first()
            check_active_limit(owner)
            generation = Generation.objects.create(
                owner=owner,
                prompt=prompt,
                storyboard=storyboard,
                seconds=seconds,
                orientation=orientation,
                seed=seed if seed is not None else random.randint(0, MAX_SEED),
                source=source,
                shots=max(1, len(storyboard)),
                model_id=settings.SORA_VIDEO_MODEL,
                retake_start=retake[0] if retake else None,
                retake_end=retake[1] if retake else None,
            )
            if source_image is not None:
                generation.source_image.save("source.png", source_image, save=True)
            hooks.cast().record_uses(generation, cameos)
            transaction.on_commit(lambda: _enqueue(generation))
    except GenerationUnavailable:
        # The row committed but Redis refused the job: take the row back so nothing is orphaned.
        generation.delete_files()
        Generation.objects.filter(pk=generation.pk).delete()
        raise
    return generation


def _enqueue(generation: Generation) -> None:
    job_id = queue.enqueue_generation(generation.pk)
    Generation.objects.filter(pk=generation.pk).update(rq_job_id=job_id)
    generation.rq_job_id = job_id


# --- status: the one place Generation.status changes (the worker's jobs call these too) ---------


def claim_generation(generation_id: int, *, worker: str) -> bool:
    """Queued -> running for one worker: the conditional UPDATE that makes a job run once."""
    now = timezone.now()
    return bool(
        Generation.objects.filter(pk=generation_id, status=Generation.Status.QUEUED).update(
            status=Generation.Status.RUNNING,
            stage=Generation.Stage.LOADING,
            started=now,
            heartbeat=now,
            worker=worker,
        )
    )


def end_run(generation_id: int, status: str, **fields) -> bool:
    """Running -> `status` (succeeded, failed, cancelled) with the job's results in `fields`.
    False when the row was deleted, swept or ended meanwhile."""
    return bool(
        Generation.objects.filter(pk=generation_id, status=Generation.Status.RUNNING).update(
            status=status, finished=timezone.now(), stage=Generation.Stage.DONE, **fields
        )
    )


def fail_stuck(generation: Generation, *, cutoff, error: str, detail: str) -> bool:
    """Running -> failed when the worker's last heartbeat is still older than `cutoff`."""
    return bool(
        Generation.objects.filter(
            pk=generation.pk, status=Generation.Status.RUNNING, heartbeat__lt=cutoff
        ).update(
            status=Generation.Status.FAILED,
            stage=Generation.Stage.DONE,
            finished=timezone.now(),
            error=error,
            error_detail=detail,
        )
    )


def _end_queued(generation: Generation, status: str, **fields) -> bool:
    """Queued -> `status` at once; its RQ job is dropped once the caller's transaction commits."""
    stopped = Generation.objects.filter(pk=generation.pk, status=Generation.Status.QUEUED).update(
        status=status, finished=timezone.now(), stage=Generation.Stage.DONE, **fields
    )
    if stopped:
        queue.cancel_queued_job(generation.rq_job_id)
    return bool(stopped)


def _ask_to_stop(generation: Generation) -> bool:
    """A running job stops at its next step (its worker then ends the run)."""
    return bool(
        Generation.objects.filter(pk=generation.pk, status=Generation.Status.RUNNING).update(
            cancel_requested=True
        )
    )


def cancel_generation(generation: Generation) -> bool:
    """Cancel a queued job at once, or ask a running one to stop at its next step.

    Returns False when the job had already finished.
    """
    stopped = _end_queued(generation, Generation.Status.CANCELLED) or _ask_to_stop(generation)
    generation.refresh_from_db()
    publish(generation.owner_id, generation.event())
    if generation.status == Generation.Status.CANCELLED:
        # A running job's end is announced by its worker; a queued one ends here.
        generation_finished(generation)
    return stopped


def stop_generation(generation: Generation, reason: str) -> bool:
    """Stop a queued job at once (failed, with `reason` for its owner) or ask a running one to
    stop (consent for a cameo in it ended). Returns whether a queued job was stopped."""
    stopped = _end_queued(generation, Generation.Status.FAILED, error=reason[:300])
    if not stopped:
        _ask_to_stop(generation)
    generation.refresh_from_db()
    publish(generation.owner_id, generation.event())
    if stopped:
        generation_finished(generation)
    return stopped


def retry_generation(generation: Generation) -> Generation:
    """A new job with the same inputs (seed included) as a failed or cancelled one."""
    if generation.status not in (Generation.Status.FAILED, Generation.Status.CANCELLED):
        raise GenerationRefused("Only failed or cancelled videos can be retried.")
    source_image = None
    if generation.source_image:
        source_image = File(generation.source_image.open("rb"))
    try:
        return start_generation(
            generation.owner,
            prompt=generation.prompt,
            seconds=generation.seconds,
            orientation=generation.orientation,
            seed=generation.seed,
            storyboard=generation.storyboard,
            source=generation.source,
            source_image=source_image,
            cameo_codes=hooks.cast().codes_for(generation),
            retake=(generation.retake_start, generation.retake_end) if generation.is_retake else None,
        )
    finally:
        if source_image is not None:
            source_image.close()


# The shortest range a retake regenerates: one latent frame of the video VAE (8 frames).
MIN_RETAKE_FRAMES = 8


def start_retake(owner: User, source: Generation, *, prompt: str, start: float, end: float) -> Generation:
    """Regenerate ``[start, end)`` seconds of ``source`` from ``prompt``, keeping the rest.

    Only the owner's own finished video can be retaken; the new draft has the source's length,
    orientation and seed, and shows whoever the source showed (their consent is checked again).
    Raises GenerationRefused for anything else, with nothing stored.
    """
    if source.owner_id != owner.pk or source.status != Generation.Status.SUCCEEDED or not source.video:
        raise GenerationRefused("Only your own finished videos can be retaken.")
    length = source.duration or source.seconds
    shortest = MIN_RETAKE_FRAMES / capabilities().fps
    if not (0 <= start < end <= length + 1e-6):
        raise GenerationRefused(f"Choose a range inside the video (0 to {length:.2f} s), start before end.")
    if end - start < shortest:
        raise GenerationRefused(f"A retake covers at least {shortest:.2f} s.")
    return start_generation(
        owner,
        prompt=prompt,
        seconds=source.seconds,
        orientation=source.orientation,
        seed=source.seed,
        source=source,
        cameo_codes=hooks.cast().codes_for(source),
        retake=(float(start), min(float(end), length)),
    )


def delete_generation(generation: Generation) -> None:
    """Delete a draft and its files; a running job is told to stop and finds its row gone."""
    if generation.status == Generation.Status.RUNNING:
        _ask_to_stop(generation)
    elif generation.status == Generation.Status.QUEUED:
        queue.cancel_queued_job(generation.rq_job_id)
    generation.delete_files()
    generation.delete()


def generation_finished(generation: Generation) -> None:
    """Everything that follows a job's end (success, failure, cancel), called by the worker: the
    owner's bell (feed) and webhook endpoints (api), through their receivers."""
    signals.generation_finished.send(sender=Generation, generation=generation)
