"""/metrics (Prometheus text format) and the admin's worker page: who may see them, and that what
processes count in Redis and what RQ holds shows up at scrape time."""

import secrets

import django_rq
import pytest
from channels.testing import WebsocketCommunicator
from django.urls import reverse

from sora_site import metrics

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def own_metrics(settings):
    """Counters of this test only (they live in the shared Redis)."""
    settings.METRICS_PREFIX = f"metrics-{secrets.token_hex(4)}"
    settings.METRICS_TOKEN = "scrape-me-" + secrets.token_hex(8)
    return settings.METRICS_TOKEN


def scrape(client, **headers) -> tuple[int, str]:
    response = client.get(reverse("sora_site:metrics"), headers=headers)
    return response.status_code, response.content.decode()


def test_only_staff_or_the_token_may_scrape(client, user, staff_user, own_metrics, settings):
    assert scrape(client)[0] == 401
    assert scrape(client, Authorization="Bearer wrong")[0] == 401
    assert scrape(client, Authorization=f"Bearer {own_metrics}")[0] == 200
    client.force_login(user)
    assert scrape(client)[0] == 401
    client.force_login(staff_user)
    status, text = scrape(client)
    assert status == 200 and "sora_queue_depth" in text
    settings.METRICS_TOKEN = ""  # no token configured: an empty bearer is no key
    client.logout()
    assert scrape(client, Authorization="Bearer ")[0] == 401


def test_counters_histograms_and_queues_show_up_at_scrape(client, staff_user, rq_queue, settings):
    metrics.count("sora_exports_total")
    metrics.count("sora_exports_total")
    metrics.count("sora_verify_lookups_total", identified="tracking")
    metrics.observe_stages("gpu", "succeeded", {"denoise": 3.2, "total": 40.0})
    metrics.observe_stages("gpu", "failed", {"total": 0.3})
    rq_queue.enqueue("generation.jobs.run_generation", 0)
    # Earlier tests of the run leave CPU jobs (post embeddings, webhook sends) with no worker to
    # take them: start this queue empty so its depth is known.
    django_rq.get_queue(settings.CPU_QUEUE).empty()
    client.force_login(staff_user)

    _, text = scrape(client)

    assert "sora_exports_total 2.0" in text
    assert 'sora_verify_lookups_total{identified="tracking"} 1.0' in text
    assert (
        'sora_job_duration_seconds_bucket{le="5.0",outcome="succeeded",queue="gpu",stage="denoise"} 1.0'
        in text
    )
    assert (
        'sora_job_duration_seconds_bucket{le="2.5",outcome="succeeded",queue="gpu",stage="denoise"} 0.0'
        in text
    )
    assert 'sora_job_duration_seconds_sum{outcome="succeeded",queue="gpu",stage="total"} 40.0' in text
    assert 'sora_job_duration_seconds_count{outcome="failed",queue="gpu",stage="total"} 1.0' in text
    assert f'sora_queue_depth{{queue="{settings.GENERATION_QUEUE}"}} 1.0' in text
    assert f'sora_queue_depth{{queue="{settings.CPU_QUEUE}"}} 0.0' in text
    age = float(
        text.split(f'sora_queue_oldest_job_age_seconds{{queue="{settings.GENERATION_QUEUE}"}} ')[1].split()[0]
    )
    assert 0 <= age < 60


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_websocket_connections_are_counted(make_user, settings):
    from asgiref.sync import sync_to_async

    from sora_site.asgi import application

    user = await sync_to_async(make_user)("watcher")
    gauge = lambda: sum(int(v) for v in metrics.connection().hvals(metrics._key("websockets")))  # noqa: E731
    communicator = WebsocketCommunicator(
        application, "/ws/events/", headers=[(b"origin", b"http://127.0.0.1")]
    )
    communicator.scope["user"] = user  # signed in (the session middleware keeps a given user)
    connected, _ = await communicator.connect()
    assert connected
    assert await sync_to_async(gauge)() == 1
    await communicator.disconnect()
    assert await sync_to_async(gauge)() == 0


def test_worker_page_is_for_staff(client, user, staff_user):
    url = reverse("sora_site:workers")
    client.force_login(user)
    assert client.get(url).status_code == 302
    client.force_login(staff_user)
    response = client.get(url)
    assert response.status_code == 200 and "No worker is running" in response.content.decode()
    assert url in client.get(reverse("admin:index")).content.decode()  # linked from the admin


def test_worker_page_tells_a_beating_worker_from_a_silent_one(client, staff_user, settings):
    from datetime import UTC, datetime, timedelta

    import django_rq
    from rq import Worker
    from rq.utils import utcformat

    queue = django_rq.get_queue(settings.GENERATION_QUEUE)
    tag = secrets.token_hex(3)
    live = Worker([queue], connection=queue.connection, name=f"live-{tag}")
    silent = Worker([queue], connection=queue.connection, name=f"silent-{tag}")
    for worker in (live, silent):
        worker.register_birth()
    # Its machine went away 20 minutes ago; RQ keeps listing it until its key expires.
    stale = datetime.now(UTC) - timedelta(minutes=20)
    queue.connection.hset(silent.key, "last_heartbeat", utcformat(stale.replace(tzinfo=None)))
    metrics.worker_loaded(model="/models/LTX-2", device="cuda:0")  # both run in this process
    try:
        rows = {row.name: row for row in metrics.workers()}
        assert rows[live.name].alive and not rows[silent.name].alive
        assert rows[live.name].model == "/models/LTX-2" and rows[live.name].device == "cuda:0"
        client.force_login(staff_user)
        page = client.get(reverse("sora_site:workers")).content.decode()
        assert f'<tr data-worker="{silent.name}">' in page and "<strong>no</strong>" in page
        assert "<td>cuda:0</td>" in page
    finally:
        for worker in (live, silent):
            worker.register_death()
