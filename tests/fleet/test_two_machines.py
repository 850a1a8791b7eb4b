"""Two "machines" that share only PostgreSQL, Redis and an S3 server (no disk).

Machine A runs the web (daphne); machine B runs a GPU worker and a CPU worker. Each has its own
working directory and VAR_DIR, its processes in their own process groups, and the production
settings module. A takes a prompt, B generates it, A streams the progress over a WebSocket and
serves the draft, the export, /verify and the API's content; a cameo recorded on A is checked by
B's CPU worker. A's /metrics and admin worker page then show B's workers and the jobs they ran.

Needs PostgreSQL (a SQLite file would be a shared disk): run it with
DATABASE_URL=postgres://postgres@127.0.0.1:5432/<name>; CI's suite already does.
"""

import json
import re
import secrets
import socket
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection

from accounts.models import ApiToken
from cameos.models import Cameo, CameoMedia
from generation.models import Generation
from provenance.c2pa_manifest import read_manifest
from tests import media_factory
from tests.conftest import wait_for
from tests.fleet.conftest import s3_env
from tests.reliability.live_stack import session_key_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.timeout(420)]

MEDIA_SUFFIXES = {".mp4", ".jpg", ".webm", ".wav", ".npy", ".png"}


def browser(url: str, session_key: str) -> requests.Session:
    """A signed-in visitor of machine A (session cookie, CSRF cookie echoed in the header)."""
    visitor = requests.Session()
    csrf = secrets.token_hex(16)
    visitor.cookies.set("sessionid", session_key)
    visitor.cookies.set("csrftoken", csrf)
    visitor.headers.update({"X-CSRFToken": csrf, "Referer": url + "/"})
    return visitor


def progress_until_done(
    socket_url: str, origin: str, session_key: str, submit, meanwhile
) -> tuple[str, list[dict]]:
    """Open the events socket on A, submit the prompt, do `meanwhile()`, and collect the job's
    events (buffered by the socket meanwhile) until it ends."""
    from websockets.sync.client import connect

    headers = {"Cookie": f"sessionid={session_key}", "Origin": origin}
    with connect(socket_url, additional_headers=headers, open_timeout=30) as ws:
        code = submit()
        meanwhile()
        events = []
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            event = json.loads(ws.recv(timeout=deadline - time.monotonic()))
            if event.get("code") != code:
                continue
            events.append(event)
            if event["status"] in ("succeeded", "failed", "cancelled"):
                return code, events
    raise AssertionError(f"no final event; saw {events}")


def test_a_web_machine_and_a_worker_machine_share_no_disk(machines, s3_bucket, s3_server, tiny_model, make_user, staff_user, tmp_path):  # fmt: skip
    if connection.vendor == "sqlite":
        pytest.skip("a SQLite file is a shared disk: run with DATABASE_URL=postgres://...")
    s3, bucket = s3_bucket
    metrics_token = secrets.token_urlsafe(16)
    shared = {
        **s3_env(s3_server, bucket),
        "METRICS_TOKEN": metrics_token,
        "METRICS_PREFIX": f"fleet-{secrets.token_hex(4)}",
        "CACHE_KEY_PREFIX": f"fleet-{secrets.token_hex(4)}",
    }
    a = machines("a", shared)
    b = machines("b", shared)
    # Deployment artifacts, copied where the settings look for them by default: the signing
    # certificate onto the web machine, the model onto the GPU machine.
    for name, setting in (("c2pa-signer.key", "C2PA_SIGNING_KEY"), ("c2pa-chain.pem", "C2PA_CERT_CHAIN"), ("c2pa-root.pem", "C2PA_TRUST_ANCHORS")):  # fmt: skip
        a.install(Path(getattr(settings, setting)), f"c2pa/{name}")
    b.install(Path(tiny_model), "models/tiny-ltx2")
    gpu = b.worker("gpu", settings.GENERATION_QUEUE)
    b.worker("cpu", settings.CPU_QUEUE)
    url = a.daphne()
    alice = make_user("alice")
    key = session_key_for(alice)
    visitor = browser(url, key)

    # A cameo is recorded (the test makes the clip while B's workers start) and uploaded to A
    # while B generates: B's CPU worker checks it beside the GPU worker's job.
    challenge = visitor.post(f"{url}/cameos/record/challenge", headers={"Accept": "application/json"}).json()
    issued = time.monotonic()
    recording = media_factory.make_liveness_recording(
        tmp_path / "me.webm", challenge["digits"], challenge["turns"]
    )

    def upload_cameo() -> None:
        time.sleep(max(0.0, 6 - (time.monotonic() - issued)))  # a clip can't predate its challenge
        uploaded = visitor.post(
            f"{url}/cameos/record/upload",
            data={"challenge": challenge["nonce"]},
            files={"recording": ("me.webm", recording.read_bytes(), "video/webm")},
            headers={"Accept": "application/json"},
        )
        assert uploaded.status_code == 202, uploaded.text

    # 1. A takes the prompt, B generates it, A streams the progress.

    def submit() -> str:
        answer = visitor.post(
            url + "/create/",
            data={"prompt": "rain on a tin roof, a cat at the window", "seconds": "1", "orientation": "portrait",
                  "seed": "11", "shots-TOTAL_FORMS": "0", "shots-INITIAL_FORMS": "0"},
            allow_redirects=False,
        )  # fmt: skip
        assert answer.status_code == 302, answer.text[-2000:]
        return re.search(r"/g/([^/]+)/$", answer.headers["Location"]).group(1)

    ws_url = url.replace("http://", "ws://") + "/ws/events/"
    try:
        code, events = progress_until_done(ws_url, url, key, submit, upload_cameo)
    except Exception:
        print(a.logs(), b.logs())
        raise
    generation = Generation.objects.get(code=code)
    assert events[-1]["status"] == "succeeded", (events[-1], b.logs())
    assert any(e["status"] == "running" and e["stage"] == "generating" for e in events)
    assert generation.worker == f"{socket.gethostname()}:{gpu.pid}"  # B's GPU worker made it

    # 2. A serves the draft (read from the bucket) to its owner.
    stored = s3.get_object(Bucket=bucket, Key=generation.video.name)["Body"].read()
    draft = visitor.get(f"{url}/g/{code}/media/video")
    assert draft.status_code == 200 and draft.content == stored and stored[4:8] == b"ftyp"
    part = visitor.get(f"{url}/g/{code}/media/video", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == stored[:100]
    for variant in ("poster", "sprite", "preview"):  # written by B, read from the bucket by A
        assert visitor.get(f"{url}/g/{code}/media/{variant}").status_code == 200, variant
    preview = next(e["preview"] for e in events if e.get("preview"))  # a live preview was streamed
    assert visitor.get(url + preview).content[:2] == b"\xff\xd8"

    # 3. The export: made on A from the draft in the bucket, signed, stored in the bucket.
    download = visitor.get(f"{url}/g/{code}/download")
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    manifest = read_manifest(
        download.content, trust_anchors_pem=Path(settings.C2PA_TRUST_ANCHORS).read_bytes()
    )
    assert manifest["validation_state"] == "Trusted"

    # 4. /verify on A recognises it; the API on A serves the same export.
    verified = requests.post(f"{url}/verify", files={"video": ("clip.mp4", download.content, "video/mp4")},
                             cookies={"csrftoken": "x" * 32}, headers={"X-CSRFToken": "x" * 32, "Referer": url + "/"})  # fmt: skip
    assert verified.status_code == 200 and "Trusted" in verified.text and "Made on this site" in verified.text
    _, raw_token = ApiToken.issue(alice, "fleet")
    content = requests.get(
        f"{url}/v1/videos/video_{code}/content", headers={"Authorization": f"Bearer {raw_token}"}
    )
    assert content.status_code == 200 and content.content == download.content

    # 5. ...and B's CPU worker checked the cameo recorded on A meanwhile.
    cameo = Cameo.objects.get(owner=alice)
    wait_for(lambda: Cameo.objects.get(pk=cameo.pk).status not in ("pending", "checking"), timeout=150,
             interval=0.5, message="the cameo check")  # fmt: skip
    cameo.refresh_from_db()
    assert cameo.status == "active", (cameo.reasons, b.logs())
    assert "analyse_cameo" in b.log("cpu")  # B's CPU worker ran the check
    reference = CameoMedia.objects.filter(cameo=cameo, role="reference").first()
    assert visitor.get(f"{url}/cameos/c/{cameo.code}/media/reference/{reference.position}").status_code == 200

    # 6. Everything is in the bucket; no media file is on either machine's disk.
    objects = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    generation.refresh_from_db()
    assert {
        generation.video.name,
        generation.poster.name,
        generation.sprite.name,
        generation.preview.name,
    } <= objects
    assert generation.export.file.name in objects
    assert {m.file.name for m in CameoMedia.objects.filter(cameo=cameo)} <= objects
    on_disk = [p for m in (a, b) for p in m.files() if p.suffix in MEDIA_SUFFIXES and "models" not in p.parts]
    assert on_disk == []

    # 7. A's metrics and admin page show B's workers and what they did.
    assert requests.get(f"{url}/metrics").status_code == 401
    scrape = requests.get(f"{url}/metrics", headers={"Authorization": f"Bearer {metrics_token}"})
    assert scrape.status_code == 200, scrape.text[-2000:]
    text = scrape.text
    gpu_queue = settings.GENERATION_QUEUE
    assert f'sora_queue_depth{{queue="{gpu_queue}"}} 0.0' in text
    assert (
        f'sora_job_duration_seconds_count{{outcome="succeeded",queue="{gpu_queue}",stage="total"}} 1.0'
        in text
    )
    assert (
        f'sora_job_duration_seconds_count{{outcome="succeeded",queue="{gpu_queue}",stage="denoise"}} 1.0'
        in text
    )
    assert (
        f'sora_job_duration_seconds_count{{outcome="verified",queue="{settings.CPU_QUEUE}",stage="total"}} 1.0'
        in text
    )
    assert "sora_exports_total 1.0" in text
    assert re.search(r'sora_verify_lookups_total\{identified="(tracking|fingerprint)"\} 1.0', text)
    for label in ("gpu", "cpu"):  # B's two workers, beating
        assert re.search(rf'sora_worker_last_heartbeat_timestamp_seconds\{{[^}}]*worker="b-{label}-', text)
    assert float(re.search(r'sora_workers\{alive="true",state="idle"\} (\S+)', text).group(1)) >= 2
    assert "sora_websocket_connections 0.0" in text  # the socket above was closed

    staff = browser(url, session_key_for(staff_user))
    page = staff.get(f"{url}/admin/workers/")
    assert page.status_code == 200
    row = re.search(r'<tr data-worker="b-gpu-[^"]+">(.*?)</tr>', page.text, re.S).group(1)
    assert "<td>yes</td>" in row and "models/tiny-ltx2" in row
    assert "<td>cpu</td>" in row
    assert browser(url, key).get(f"{url}/admin/workers/", allow_redirects=False).status_code == 302
