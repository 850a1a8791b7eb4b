"""Prometheus metrics and worker health for a site spread over many processes and machines.

Why counters live in Redis rather than in prometheus_client's multiprocess mode: that mode sums
files that every process writes into one shared directory on one host, and a fleet's GPU workers
run on other machines with no disk in common. Every process already reaches Redis, whose
HINCRBYFLOAT is atomic, so workers and web processes count there and any web process behind the
proxy answers a scrape with the whole site's numbers. Queue and worker gauges aren't counted at
all: they are read from RQ's own keys in Redis when Prometheus scrapes.

Counting never gets in the way of the work it counts: a Redis error loses the increment, nothing
else (logged at debug level).
"""

import functools
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings

log = logging.getLogger(__name__)

# Seconds; generation stages run from a fraction of a second (tiny model) to half an hour.
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
HELP = {
    "sora_job_duration_seconds": "Seconds spent per job stage, by queue, stage and outcome.",
    "sora_exports_total": "Export renditions (watermarked, signed copies) made.",
    "sora_verify_lookups_total": "Files checked by /verify or verify_video, by what identified them.",
}
WORKER_INFO_TTL = 7 * 86400  # a worker that vanished without saying so stops being listed after this


@functools.lru_cache(maxsize=4)
def _client(url: str):
    import redis

    # One client (and connection pool) per process; short timeouts: counting must never stall work.
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


def connection():
    return _client(settings.REDIS_URL)


def _key(*parts: str) -> str:
    return ":".join((settings.METRICS_PREFIX, *parts))


def _field(labels: dict) -> str:
    return json.dumps(labels, sort_keys=True)


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def count(name: str, amount: float = 1, **labels: str) -> None:
    """Add to a counter shared by every process (`name` ends in _total)."""
    try:
        pipe = connection().pipeline(transaction=False)
        pipe.hincrbyfloat(_key("counter", name), _field(labels), amount)
        pipe.sadd(_key("counters"), name)  # the scrape reads these names instead of SCANning Redis
        pipe.execute()
    except Exception:  # noqa: BLE001 - a lost increment must not fail the work it counts
        log.debug("metric %s not counted", name, exc_info=True)


def observe(name: str, seconds: float, **labels: str) -> None:
    """Record one observation in a shared histogram (cumulative buckets, sum and count)."""
    try:
        pipe = connection().pipeline(transaction=False)
        key = _key("histogram", name)
        for bound in (*DURATION_BUCKETS, "+Inf"):
            if bound == "+Inf" or seconds <= bound:
                pipe.hincrbyfloat(key, _field({**labels, "le": str(bound)}), 1)
        pipe.hincrbyfloat(key, _field({**labels, "le": "sum"}), seconds)
        pipe.sadd(_key("histograms"), name)
        pipe.execute()
    except Exception:  # noqa: BLE001 - as in count()
        log.debug("metric %s not observed", name, exc_info=True)


def observe_stages(queue: str, outcome: str, stages: dict[str, float]) -> None:
    for stage, seconds in stages.items():
        if seconds is not None:
            observe("sora_job_duration_seconds", float(seconds), queue=queue, stage=stage, outcome=outcome)


def websocket_change(delta: int) -> None:
    """Open WebSockets of this process (one hash field per daphne process, summed at scrape)."""
    try:
        connection().hincrby(_key("websockets"), process_name(), delta)
    except Exception:  # noqa: BLE001 - as in count()
        log.debug("websocket gauge not updated", exc_info=True)


def worker_loaded(*, model: str, device: str) -> None:
    """What this worker process has loaded, for the admin's worker page and the scrape."""
    try:
        key = _key("worker", process_name())
        connection().hset(key, mapping={"model": model, "device": device, "loaded": time.time()})
        connection().expire(key, WORKER_INFO_TTL)
    except Exception:  # noqa: BLE001 - as in count()
        log.debug("worker info not stored", exc_info=True)


# --- reading ----------------------------------------------------------------------------------


# Apps whose jobs beat on their own row (generation) register here how to read those beats:
# a callable taking RQ job ids and returning {job id: last beat} for the jobs still running.
# sora_site sits below the apps, so it asks them through this list instead of importing them.
JOB_HEARTBEATS: list[Callable[[set[str]], dict[str, datetime]]] = []


def register_job_heartbeats(beats: Callable[[set[str]], dict[str, datetime]]) -> None:
    if beats not in JOB_HEARTBEATS:
        JOB_HEARTBEATS.append(beats)


@dataclass
class WorkerHealth:
    name: str
    queues: list[str]
    state: str
    alive: bool
    last_heartbeat: datetime | None
    heartbeat_age: float | None
    current_job: str
    model: str
    device: str


def workers() -> list[WorkerHealth]:
    """Every RQ worker registered on this site's queues, with what it has loaded.

    Alive: an idle worker's RQ heartbeat is younger than its TTL (it beats every few minutes); a
    worker running a generation is as alive as the job's own heartbeat, which the job touches every
    few seconds (RQ doesn't beat during a SimpleWorker's job). A worker killed by SIGKILL or lost
    with its machine stops beating, and RQ drops it when its key expires.
    """
    import django_rq
    from rq import Worker

    conn = connection()
    found: dict[str, Worker] = {}
    for queue_name in settings.RQ_QUEUES:
        for worker in Worker.all(queue=django_rq.get_queue(queue_name)):
            found[worker.name] = worker
    now = datetime.now(UTC)
    busy = {w.get_current_job_id() for w in found.values()} - {None}
    job_beats = {}
    for beats in JOB_HEARTBEATS:
        job_beats.update(beats(busy))
    rows = []
    for worker in sorted(found.values(), key=lambda w: w.name):
        info = {
            k.decode(): v.decode()
            for k, v in conn.hgetall(_key("worker", f"{worker.hostname}:{worker.pid}")).items()
        }
        heartbeat = worker.last_heartbeat.replace(tzinfo=UTC) if worker.last_heartbeat else None
        job_id = worker.get_current_job_id() or ""
        limit = worker.worker_ttl + 60
        if job_beats.get(job_id):
            heartbeat, limit = job_beats[job_id], settings.GENERATION_HEARTBEAT_TIMEOUT
        age = (now - heartbeat).total_seconds() if heartbeat else None
        job = worker.get_current_job() if job_id else None
        rows.append(
            WorkerHealth(
                name=worker.name,
                queues=worker.queue_names(),
                state=str(getattr(worker.get_state(), "value", worker.get_state())),
                alive=age is not None and age < limit,
                last_heartbeat=heartbeat,
                heartbeat_age=age,
                current_job=f"{job.func_name}{tuple(job.args)}" if job is not None else job_id,
                model=info.get("model", ""),
                device=info.get("device", ""),
            )
        )
    return rows


class SiteCollector:
    """Everything /metrics shows, read from Redis at scrape time."""

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        conn = connection()
        yield from self.queues()
        yield from self.worker_metrics()
        sockets = GaugeMetricFamily("sora_websocket_connections", "Open WebSockets, all web processes.")
        sockets.add_metric([], sum(int(v) for v in conn.hvals(_key("websockets"))))
        yield sockets
        for name in sorted(n.decode() for n in conn.smembers(_key("counters"))):
            fields = [(json.loads(f), float(v)) for f, v in conn.hgetall(_key("counter", name)).items()]
            labels = sorted({k for labels, _ in fields for k in labels})
            family = CounterMetricFamily(name.removesuffix("_total"), HELP.get(name, name), labels=labels)
            for values, amount in fields:
                family.add_metric([values.get(k, "") for k in labels], amount)
            yield family
        for name in sorted(n.decode() for n in conn.smembers(_key("histograms"))):
            yield self.histogram(name, conn.hgetall(_key("histogram", name)))

    @staticmethod
    def histogram(name: str, stored: dict):
        from prometheus_client.core import HistogramMetricFamily

        series: dict[tuple, dict[str, float]] = {}
        label_names: list[str] = []
        for field, value in stored.items():
            labels = json.loads(field)
            bound = labels.pop("le")
            label_names = sorted(labels)
            series.setdefault(tuple(labels[k] for k in label_names), {})[bound] = float(value)
        family = HistogramMetricFamily(name, HELP.get(name, name), labels=label_names)
        for values, counts in sorted(series.items()):
            buckets = [(str(b), counts.get(str(b), 0.0)) for b in (*DURATION_BUCKETS, "+Inf")]
            family.add_metric(list(values), buckets, sum_value=counts.get("sum", 0.0))
        return family

    def queues(self):
        import django_rq
        from prometheus_client.core import GaugeMetricFamily

        depth = GaugeMetricFamily("sora_queue_depth", "Jobs waiting in each RQ queue.", labels=["queue"])
        oldest = GaugeMetricFamily(
            "sora_queue_oldest_job_age_seconds",
            "Age of the oldest waiting job (0 when empty).",
            labels=["queue"],
        )
        now = datetime.now(UTC)
        for name in settings.RQ_QUEUES:
            queue = django_rq.get_queue(name)
            depth.add_metric([name], queue.count)
            age = 0.0
            first = queue.get_job_ids(0, 1)
            job = queue.fetch_job(first[0]) if first else None
            if job is not None and job.enqueued_at is not None:
                age = (now - job.enqueued_at.replace(tzinfo=UTC)).total_seconds()
            oldest.add_metric([name], max(0.0, age))
        yield depth
        yield oldest

    def worker_metrics(self):
        from prometheus_client.core import GaugeMetricFamily

        rows = workers()
        up = GaugeMetricFamily("sora_workers", "RQ workers by state and liveness.", labels=["state", "alive"])
        tally: dict[tuple[str, str], int] = {}
        for row in rows:
            tally[(row.state, str(row.alive).lower())] = tally.get((row.state, str(row.alive).lower()), 0) + 1
        for labels, n in sorted(tally.items()):
            up.add_metric(list(labels), n)
        yield up
        beat = GaugeMetricFamily(
            "sora_worker_last_heartbeat_timestamp_seconds",
            "Unix time of each worker's last RQ heartbeat.",
            labels=["worker", "queues", "device"],
        )
        for row in rows:
            if row.last_heartbeat is not None:
                beat.add_metric([row.name, ",".join(row.queues), row.device], row.last_heartbeat.timestamp())
        yield beat


def exposition() -> bytes:
    """The Prometheus text format of everything above."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(SiteCollector())
    return generate_latest(registry)


GENERATION_STAGES = {"load_s": "load", "denoise_s": "denoise", "decode_s": "decode", "check_s": "check"}


def generation_stages(timings: dict | None) -> dict[str, float]:
    """The stages of a generation's timings (seconds) worth a histogram each."""
    return {stage: timings[key] for key, stage in GENERATION_STAGES.items() if key in (timings or {})}


def timed_job(queue_setting: str):
    """Decorate an RQ entry point: its run time goes into sora_job_duration_seconds with
    stage="total" and the job's return value ("succeeded", "rejected", ...) as the outcome."""

    def decorate(job):
        @functools.wraps(job)
        def run(*args, **kwargs):
            started = time.monotonic()
            outcome = "error"
            try:
                outcome = job(*args, **kwargs)
                return outcome
            finally:
                if outcome != "not claimed":
                    queue = getattr(settings, queue_setting)
                    observe_stages(queue, str(outcome), {"total": time.monotonic() - started})

        return run

    return decorate
