"""RQ entry points for generation. Jobs take ids, re-fetch rows and claim them conditionally."""

import io
import logging
import os
import socket
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.db import close_old_connections
from django.utils import timezone

from generation import hooks
from generation.actions import claim_generation, end_run, fail_stuck, generation_finished
from generation.errors import GenerationRefused
from generation.events import publish
from generation.models import Generation, mean_run_seconds
from generation.serving import local_path
from generation.signals import output_flagged
from sora_site import metrics

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 0.5  # seconds between row updates: enough for a smooth bar, cheap for the DB
CANCEL_CHECK_INTERVAL = 0.5


class JobGone(Exception):
    """The row was deleted while the job ran."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(generation_id: int) -> bool:
    return claim_generation(generation_id, worker=worker_name())


class Heartbeat:
    """Touches the row every few seconds from a thread, so long stages (model load, encode)
    don't look like a dead worker to the sweeper."""

    def __init__(self, generation_id: int, every: float = 5.0):
        self.generation_id = generation_id
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                Generation.objects.filter(pk=self.generation_id, status=Generation.Status.RUNNING).update(
                    heartbeat=timezone.now()
                )
            except Exception:  # noqa: BLE001 - a missed beat is harmless; the next one retries
                log.debug("heartbeat failed", exc_info=True)
            finally:
                close_old_connections()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=2)


class ProgressReporter:
    """The engine's progress callback: throttled row updates plus an event per update."""

    def __init__(self, generation: Generation):
        self.generation = generation
        self.last_save = 0.0
        self.last_cancel_check = 0.0
        self.last_stage = None
        self.started = time.monotonic()
        self.first_step_s: float | None = None

    def update(self, **fields) -> None:
        for name, value in fields.items():
            setattr(self.generation, name, value)
        self.save(force=True)

    def save(self, force: bool = False, preview_url: str | None = None) -> None:
        now = time.monotonic()
        if not force and now - self.last_save < PROGRESS_INTERVAL and preview_url is None:
            return
        self.last_save = now
        g = self.generation
        g.heartbeat = timezone.now()
        changed = Generation.objects.filter(pk=g.pk).update(
            stage=g.stage,
            step=g.step,
            total_steps=g.total_steps,
            shot=g.shot,
            shots=g.shots,
            heartbeat=g.heartbeat,
        )
        if not changed:
            raise JobGone()
        publish(g.owner_id, g.event(preview=preview_url))

    def __call__(self, progress) -> None:
        g = self.generation
        if self.first_step_s is None and progress.stage == "generating" and progress.step >= 1:
            self.first_step_s = time.monotonic() - self.started
        g.stage = progress.stage
        g.step = progress.step
        g.total_steps = progress.total_steps
        g.shot = progress.shot
        g.shots = progress.shots
        preview_url = None
        if progress.preview_jpeg:
            g.preview.save("preview.jpg", ContentFile(progress.preview_jpeg), save=False)
            Generation.objects.filter(pk=g.pk).update(preview=g.preview.name)
            preview_url = g.preview_url()
        stage_changed = progress.stage != self.last_stage
        self.last_stage = progress.stage
        self.save(force=stage_changed, preview_url=preview_url)

    def should_cancel(self) -> bool:
        now = time.monotonic()
        if now - self.last_cancel_check < CANCEL_CHECK_INTERVAL:
            return False
        self.last_cancel_check = now
        row = (
            Generation.objects.filter(pk=self.generation.pk)
            .values_list("cancel_requested", flat=True)
            .first()
        )
        return row is None or bool(row)


def get_worker_engine():
    """The process-wide engine: a worker loads the model once and keeps it for every job."""
    from generation.engine.pipeline import EngineSettings, get_engine

    return get_engine(
        settings.SORA_VIDEO_MODEL, settings.SORA_VIDEO_PROFILE, EngineSettings.from_settings(settings)
    )


def build_request(generation: Generation):
    """The engine's request. First frame: the uploaded image, else the reference image of a cameo
    the request asked for; else a remix or extension continues the last frames of its source, and
    a retake gets the whole source. Cameo owners' preferences are appended to every shot's prompt."""
    from PIL import Image

    from generation import media
    from generation.engine.pipeline import CONTINUE_FRAMES, GenerationRequest, Retake, Shot

    cameos = hooks.cast().conditioning(generation)
    shots = [
        Shot(prompt=" ".join(filter(None, [s["prompt"], cameos.preferences])), seconds=float(s["seconds"]))
        for s in generation.shot_list()
    ]
    source_video = generation.source.video if generation.source_id and generation.source else None
    if generation.is_retake and source_video:
        with local_path(source_video) as path:
            frames, _ = media.read_frames(path)
            audio, rate = media.read_audio(path)
        retake = Retake(frames, audio, rate, generation.retake_start, generation.retake_end)
        shot = Shot(prompt=shots[0].prompt, seconds=generation.retake_end - generation.retake_start)
        return GenerationRequest(
            shots=[shot], orientation=generation.orientation, seed=generation.seed, retake=retake
        )
    condition_image = continue_frames = None
    if generation.source_image:
        with generation.source_image.open("rb") as fh:
            condition_image = Image.open(fh).convert("RGB")
            condition_image.load()
    elif cameos.image is not None:
        condition_image = cameos.image
    elif source_video:
        with local_path(source_video) as path:
            continue_frames = media.last_frames(path, CONTINUE_FRAMES)
    return GenerationRequest(
        shots=shots,
        orientation=generation.orientation,
        seed=generation.seed,
        condition_image=condition_image,
        continue_frames=continue_frames,
    )


def user_error(exc: BaseException) -> str:
    text = str(exc).lower()
    if isinstance(exc, MemoryError) or "out of memory" in text:
        return "The GPU ran out of memory making this video. Try a shorter or smaller video."
    return "Something went wrong while making this video. You can retry it."


@metrics.timed_job("GENERATION_QUEUE")
def run_generation(generation_id: int) -> str:
    """Generate, encode and store one video. Safe to call twice: only one call claims the row."""
    from generation.engine.pipeline import GenerationCancelled

    if not claim(generation_id):
        return "not claimed"
    generation = Generation.objects.select_related("owner", "source").get(pk=generation_id)
    reporter = ProgressReporter(generation)
    publish(generation.owner_id, generation.event())
    _publish_queue_positions()
    try:
        with Heartbeat(generation_id):
            # Consent is checked again right before generating: a cameo may have been revoked
            # while the job waited in the queue.
            hooks.cast().check_before_generating(generation)
            timings = make_video(generation, reporter)
            finish(generation, Generation.Status.SUCCEEDED, timings=timings)
    except JobGone:
        generation.delete_files()
        return "deleted"
    except GenerationCancelled:
        finish(generation, Generation.Status.CANCELLED)
        return "cancelled"
    except GenerationRefused as exc:
        finish(generation, Generation.Status.FAILED, error=str(exc))
        return "refused"
    except Exception as exc:
        log.exception("generation %s failed", generation.code)
        finish(generation, Generation.Status.FAILED, error=user_error(exc), detail=traceback.format_exc())
        return "failed"
    return "succeeded"


def make_video(generation: Generation, reporter: ProgressReporter) -> dict:
    """Load the engine, generate, give the cameo its voice, encode beside the output check and
    store the files on the row (not yet saved). Returns the job's timings."""
    engine = get_worker_engine()
    started_load = time.monotonic()
    engine.load()
    load_seconds = time.monotonic() - started_load
    metrics.worker_loaded(model=settings.SORA_VIDEO_MODEL, device=str(getattr(engine, "resolved_device", "")))
    request = build_request(generation)
    voice = hooks.cast().voice_for(generation)
    if voice is not None and settings.VOICE_ID_LORA and request.condition_image is not None:
        request.reference_voice = reference_voice(voice)
    output = engine.generate(request, on_progress=reporter, should_cancel=reporter.should_cancel)
    generation.storyboard_mode = output.storyboard_mode
    if voice is not None:
        reporter.update(stage=Generation.Stage.VOICE)
        give_cameo_voice(generation, output, voice)
    reporter.update(stage=Generation.Stage.ENCODING)
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(1) as pool:
        # Encoding touches no database, so it runs beside the output check (which reads the
        # policy and cameo rows, and so stays on this thread's connection).
        encoding = pool.submit(encode_outputs, output, Path(tmp))
        reporter.update(stage=Generation.Stage.CHECKING)
        started_check = time.monotonic()
        check_output(generation, output)
        check_seconds = time.monotonic() - started_check
        store_outputs(generation, output, encoding.result())
    reporter.update(stage=Generation.Stage.FINISHING)
    return dict(
        output.timings,
        load_s=round(load_seconds, 3),
        first_step_s=round(reporter.first_step_s or 0, 3),
        check_s=round(check_seconds, 3),
        job_s=round(time.monotonic() - reporter.started, 3),
    )


def reference_voice(voice: hooks.CastVoice):
    """The first seconds of the cameo's accepted reading (mono 16 kHz) for ID-LoRA conditioning."""
    return voice.speech()[: int(settings.VOICE_REFERENCE_SECONDS * 16_000)]


def give_cameo_voice(generation: Generation, output, voice: hooks.CastVoice) -> None:
    """Record which voice the speech got, converting it first when route 2 (kNN-VC) is on.

    Route 1 already ran inside the engine when `output.voice` says so. Otherwise, with
    `VOICE_ROUTE=knnvc`, the speech regions are converted to the cameo's voice over the untouched
    background and the clip keeps its exact length. The cameo's matching set is computed once
    (at the reading's check, or here on first use after the route was switched on) and stored.
    """
    import numpy as np

    if getattr(output, "voice", None):
        generation.voice = {**output.voice, "cameo": voice.code, "owner": voice.owner_handle}
        return
    from generation.voice.stage import get_voice_stage

    stage = get_voice_stage()
    if stage is None:
        return
    result = stage.convert(
        output.audio, output.sample_rate, voice.matching_set(), np.asarray(voice.embedding, np.float32)
    )
    output.audio = result.audio
    generation.voice = {**result.report, "cameo": voice.code, "owner": voice.owner_handle}


def encode_outputs(output, directory: Path) -> dict:
    """The MP4 (a file in ``directory``), poster and sprite sheet of an engine output. Pure CPU
    work on the frames and audio in memory: no database, no storage, safe on another thread."""
    from generation import media

    path = directory / "video.mp4"
    media.write_mp4(path, output.frames, output.fps, output.audio, output.sample_rate)
    return {
        "video": path,
        "poster": media.poster_jpeg(output.frames),
        "sprite": media.sprite_sheet_jpeg(output.frames),
    }


def store_outputs(generation: Generation, output, encoded: dict) -> None:
    with open(encoded["video"], "rb") as fh:
        generation.video.save("video.mp4", File(fh), save=False)
    generation.poster.save("poster.jpg", ContentFile(encoded["poster"]), save=False)
    generation.sprite.save("sprite.jpg", ContentFile(encoded["sprite"]), save=False)
    generation.height, generation.width = output.frames.shape[1:3]
    generation.duration = len(output.frames) / output.fps


def check_output(generation: Generation, output) -> None:
    """Run output moderation on the frames and audio still in memory; results go on the row."""
    result = hooks.checks().check_output(
        generation, output.frames, output.fps, output.audio, output.sample_rate
    )
    generation.check_status = result.outcome
    generation.check_category = result.category
    generation.check_reason = result.reason[:300]
    generation.check_scores = result.scores
    if result.top_frames:
        from PIL import Image

        strip = [Image.open(io.BytesIO(data)) for data in result.top_frames]
        sheet = Image.new("RGB", (sum(i.width for i in strip), max(i.height for i in strip)))
        x = 0
        for image in strip:
            sheet.paste(image, (x, 0))
            x += image.width
        out = io.BytesIO()
        sheet.save(out, "JPEG", quality=80)
        generation.check_frames.save("check.jpg", ContentFile(out.getvalue()), save=False)


def finish(generation: Generation, status: str, *, timings=None, error: str = "", detail: str = "") -> None:
    fields = {"error": error[:300]}
    if detail:
        fields["error_detail"] = detail
    if timings:
        fields["timings"] = timings
    if status == Generation.Status.SUCCEEDED:
        fields.update(
            video=generation.video.name,
            poster=generation.poster.name,
            sprite=generation.sprite.name,
            width=generation.width,
            height=generation.height,
            duration=generation.duration,
            voice=generation.voice,
            storyboard_mode=generation.storyboard_mode,
            **generation.output_fields(),
        )
    changed = end_run(generation.pk, status, **fields)
    metrics.observe_stages(settings.GENERATION_QUEUE, status, metrics.generation_stages(timings))
    if not changed:
        # Deleted (or swept) meanwhile: don't leave files behind for a row nobody can see.
        if not Generation.objects.filter(pk=generation.pk).exists():
            generation.delete_files()
        return
    generation.refresh_from_db()
    publish(generation.owner_id, generation.event())
    generation_finished(generation)


def _publish_queue_positions(limit: int = 50) -> None:
    """A job just left the queue: everyone behind it moved up one place."""
    queued = Generation.objects.filter(status=Generation.Status.QUEUED).order_by("created")[:limit]
    mean_run = mean_run_seconds()  # once for all rows, not an ETA query per queued job
    for position, generation in enumerate(queued, start=1):
        publish(generation.owner_id, generation.event(position=position, mean_run=mean_run))


def sweep_stuck_generations() -> int:
    """Fail running jobs whose worker stopped beating (SIGKILL, OOM, machine gone).

    Returns how many were failed. Run periodically (`manage.py sweep_generations --loop`).
    """
    cutoff = timezone.now() - timezone.timedelta(seconds=settings.GENERATION_HEARTBEAT_TIMEOUT)
    stuck = list(Generation.objects.filter(status=Generation.Status.RUNNING, heartbeat__lt=cutoff))
    failed = 0
    for generation in stuck:
        changed = fail_stuck(
            generation,
            cutoff=cutoff,
            error="The worker making this video stopped unexpectedly. You can retry it.",
            detail=f"no heartbeat since {generation.heartbeat.isoformat()} from {generation.worker}",
        )
        if changed:
            failed += 1
            generation.refresh_from_db()
            publish(generation.owner_id, generation.event())
            generation_finished(generation)
    return failed


def requeue_lost_generations(older_than: float = 60.0) -> int:
    """Put queued jobs back on the queue when Redis lost them (restarted empty, flushed).

    The row is the truth: a generation still "queued" whose RQ job no longer exists would
    otherwise wait forever and hold one of its owner's active slots. Returns how many were
    re-enqueued; does nothing while Redis is down (the next sweep tries again).
    """
    from generation import queue

    cutoff = timezone.now() - timezone.timedelta(seconds=older_than)
    requeued = 0
    try:
        for generation in Generation.objects.filter(status=Generation.Status.QUEUED, created__lt=cutoff):
            if queue.job_exists(generation.rq_job_id):
                continue
            job_id = queue.enqueue_generation(generation.pk)
            # Only if it is still queued: a claim by a worker meanwhile wins (its copy won't run twice).
            Generation.objects.filter(pk=generation.pk, status=Generation.Status.QUEUED).update(
                rq_job_id=job_id
            )
            requeued += 1
    except queue.GenerationUnavailable:
        log.warning("the job queue is unreachable; lost jobs will be re-enqueued later")
    return requeued


def recheck_output(generation_id: int) -> str:
    """Run the output check again on a stored video with today's rules (after a report).

    A video that no longer passes is taken out of circulation: its post is hidden and its
    export no longer served until a moderator decides.
    """
    from generation import media

    generation = Generation.objects.select_related("owner").filter(pk=generation_id).first()
    if generation is None or not generation.video:
        return "gone"
    with local_path(generation.video) as path:
        frames, fps = media.read_frames(path)
        audio, sample_rate = media.read_audio(path)

    stored = SimpleNamespace(frames=frames, fps=fps, audio=audio, sample_rate=sample_rate)
    check_output(generation, stored)
    Generation.objects.filter(pk=generation.pk).update(**generation.output_fields())
    if generation.check_status in (Generation.Check.BLOCKED, Generation.Check.REVIEW):
        output_flagged.send(sender=Generation, generation=generation)
    return generation.check_status
