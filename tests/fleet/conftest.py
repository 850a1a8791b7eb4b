"""A real S3 API server (moto's standalone server) and "machines" that share no disk.

The S3 server is started here on a free port, once per session, in its own process group.
Nothing in these tests mocks S3: django-storages talks HTTP to it exactly as to MinIO or AWS.
"""

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.live import ROOT, free_port, subprocess_env

S3_KEYS = {"AWS_ACCESS_KEY_ID": "fleet-test", "AWS_SECRET_ACCESS_KEY": "fleet-test-secret"}
S3_REGION = "us-east-1"


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """The endpoint URL of a moto S3 server (`moto[server]`)."""
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            break
        except (urllib.error.URLError, OSError):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the S3 server did not start") from None
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


def s3_client(endpoint: str):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=S3_REGION,
        aws_access_key_id=S3_KEYS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_KEYS["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture
def s3_bucket(s3_server):
    """A new empty bucket; returns (client, bucket name)."""
    client = s3_client(s3_server)
    name = f"media-{secrets.token_hex(6)}"
    client.create_bucket(Bucket=name)
    return client, name


def s3_env(endpoint: str, bucket: str) -> dict:
    """The environment that puts a process's media in the bucket (README: MEDIA_STORAGE=s3)."""
    return {
        "MEDIA_STORAGE": "s3",
        "MEDIA_S3_ENDPOINT_URL": endpoint,
        "MEDIA_S3_BUCKET": bucket,
        "MEDIA_S3_REGION": S3_REGION,
        **S3_KEYS,
    }


@pytest.fixture
def s3_media(s3_bucket, s3_server, settings, monkeypatch):
    """This test process's default storage is the bucket (as with MEDIA_STORAGE=s3)."""
    client, bucket = s3_bucket
    for name, value in S3_KEYS.items():
        monkeypatch.setenv(name, value)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": s3_server,
                "region_name": S3_REGION,
                "default_acl": "private",
                "querystring_auth": True,
                "querystring_expire": 300,
                "file_overwrite": False,
                "signature_version": "s3v4",
            },
        },
    }
    # (Django's setting_changed handler resets default_storage, which every FileField uses.)
    return client, bucket


class Machine:
    """One "machine": its own working directory and VAR_DIR, processes in their own session
    (process group), sharing with other machines only PostgreSQL, Redis and the S3 server."""

    def __init__(self, name: str, env: dict, log_dir: Path):
        self.name = name
        self.dir = Path(tempfile.mkdtemp(prefix=f"machine-{name}-"))
        self.var = self.dir / "var"
        self.var.mkdir()
        self.log_dir = log_dir
        self.env = self._environment(env)
        self.procs: list[tuple[subprocess.Popen, Path]] = []

    def _environment(self, extra: dict) -> dict:
        env = subprocess_env(**extra)
        for name in ("MEDIA_ROOT_OVERRIDE", "MEDIA_ROOT", "SORA_TEST_MODEL", "CACHE_URL"):
            env.pop(name, None)
        for name in ("C2PA_SIGNING_KEY", "C2PA_CERT_CHAIN", "C2PA_TRUST_ANCHORS"):
            env.pop(name, None)
        # The production settings module (not the test one): what a real machine runs.
        env.update(DJANGO_SETTINGS_MODULE="sora_site.settings", VAR_DIR=str(self.var), PYTHONPATH=str(ROOT))
        return env

    def install(self, source: Path, relative: str) -> Path:
        """Copy a deployment artifact (the model, the signing certificate) onto this machine."""
        target = self.var / relative
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
        return target

    def start(self, label: str, args: list[str], **env) -> subprocess.Popen:
        log_path = self.log_dir / f"{self.name}-{label}.log"
        proc = subprocess.Popen(
            args,
            env={**self.env, **env},
            cwd=self.dir,
            stdout=open(log_path, "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append((proc, log_path))
        return proc

    def daphne(self) -> str:
        port = free_port()
        proc = self.start(
            "daphne",
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "sora_site.asgi:application",
            ],
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(url + "/healthz", timeout=2).close()
                return url
            except (urllib.error.URLError, OSError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"daphne on {self.name} did not start:\n{self.logs()}") from None
                time.sleep(0.2)

    def worker(self, label: str, queue: str, **env) -> subprocess.Popen:
        name = f"{self.name}-{label}-{os.getpid()}-{time.monotonic_ns()}"
        args = [
            sys.executable,
            str(ROOT / "manage.py"),
            "rqworker",
            queue,
            "--worker-class",
            "rq.worker.SimpleWorker",
            "--skip-checks",
            "--name",
            name,
        ]
        return self.start(label, args, **env)

    def log(self, label: str) -> str:
        return (self.log_dir / f"{self.name}-{label}.log").read_text(errors="replace")

    def files(self) -> list[Path]:
        return [p for p in self.dir.rglob("*") if p.is_file()]

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-tail:]}" for _, p in self.procs)

    def stop(self) -> None:
        for proc, _ in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, 15)
        for proc, _ in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def machines(tmp_path):
    """machines(name, env) -> Machine; every machine is stopped and removed after the test."""
    made: list[Machine] = []

    def make(name: str, env: dict) -> Machine:
        machine = Machine(name, env, tmp_path)
        made.append(machine)
        return machine

    yield make
    for machine in made:
        machine.stop()
