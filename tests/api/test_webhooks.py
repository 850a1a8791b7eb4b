"""Webhooks: signed like OpenAI's (the `openai` package's own verifier checks them), delivered from
the CPU queue, retried with back-off, logged per endpoint, and never sent to the server's own
network."""

import json
import socket
from datetime import timedelta

import openai
import pytest
from django.urls import reverse
from django.utils import timezone
from openai import OpenAI

from api.models import WebhookDelivery, WebhookEndpoint
from api.webhooks import (
    UnsafeURL,
    add_endpoint,
    attempt_delivery,
    check_url,
    emit_video_event,
    retry_due_deliveries,
)
from generation.actions import cancel_generation

TOKENS = reverse("api:tokens")
ADD = reverse("api:add_webhook")


def unwrap(request: dict, secret: str):
    """What a receiver written for OpenAI's webhooks does with a delivery."""
    return OpenAI(api_key="unused").webhooks.unwrap(request["body"], request["headers"], secret=secret)


@pytest.fixture
def cpu_queue():
    from api.webhooks import cpu_queue

    queue = cpu_queue()
    queue.empty()
    yield queue
    queue.empty()


def work(queue) -> None:
    """Run the queue's jobs in a real RQ worker, in this process (so it sees the test's rows)."""
    from rq import SimpleWorker

    SimpleWorker([queue], connection=queue.connection).work(burst=True)


def only_delivery() -> WebhookDelivery:
    return WebhookDelivery.objects.select_related("endpoint").get()


# --- signing -------------------------------------------------------------------------------


def test_the_openai_package_accepts_our_delivery_and_rejects_a_tampered_one(
    user, make_generation, receiver, django_capture_on_commit_callbacks
):
    endpoint = add_endpoint(user, receiver.url, [])
    done = make_generation(user, status="succeeded")
    with django_capture_on_commit_callbacks():
        assert emit_video_event(done) == 1
    assert attempt_delivery(only_delivery().pk) == "delivered"

    [request] = receiver.requests
    assert request["path"] == "/hooks/sora"
    assert request["headers"]["Content-Type"] == "application/json"
    event = unwrap(request, endpoint.secret)
    assert (event.type, event.data.id, event.object) == ("video.completed", f"video_{done.code}", "event")
    assert event.created_at == int(done.finished.timestamp())
    assert request["headers"]["webhook-id"] != event.id  # message id (stable across retries) vs event id

    tampered = dict(request, body=request["body"].replace(b"video.completed", b"video.failed"))
    with pytest.raises(openai.InvalidWebhookSignatureError):
        unwrap(tampered, endpoint.secret)
    other_secret = add_endpoint(user, receiver.url, []).secret
    with pytest.raises(openai.InvalidWebhookSignatureError):
        unwrap(request, other_secret)


@pytest.mark.parametrize(
    "status, event_type",
    [("succeeded", "video.completed"), ("failed", "video.failed"), ("cancelled", "video.cancelled")],
)
def test_each_ending_sends_its_event_to_the_endpoints_that_asked_for_it(
    user, other_user, make_generation, receiver, status, event_type, django_capture_on_commit_callbacks
):
    everything = add_endpoint(user, receiver.url, [])
    only_completed = add_endpoint(user, receiver.url, ["video.completed"])
    add_endpoint(other_user, receiver.url, [])  # someone else's endpoint hears nothing of mine
    with django_capture_on_commit_callbacks():
        emit_video_event(make_generation(user, status=status))
    sent_to = {d.endpoint_id for d in WebhookDelivery.objects.filter(event_type=event_type)}
    assert sent_to == ({everything.pk, only_completed.pk} if status == "succeeded" else {everything.pk})
    assert not WebhookDelivery.objects.exclude(event_type=event_type).exists()


def test_cancelling_a_queued_video_sends_video_cancelled(
    user, make_generation, receiver, django_capture_on_commit_callbacks
):
    add_endpoint(user, receiver.url, [])
    queued = make_generation(user, status="queued")
    with django_capture_on_commit_callbacks():
        cancel_generation(queued)
    assert json.loads(only_delivery().body)["type"] == "video.cancelled"


# --- delivery and retries ------------------------------------------------------------------


def test_a_failed_delivery_is_retried_with_growing_pauses_then_given_up(
    user, make_generation, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    settings.WEBHOOK_RETRY_HOURS = 24
    endpoint = add_endpoint(user, receiver.url, [])
    with django_capture_on_commit_callbacks():
        emit_video_event(make_generation(user, status="succeeded"))
    delivery = only_delivery()
    receiver.answers = [500, 503]

    assert attempt_delivery(delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.response_status) == (1, 500)
    assert "HTTP 500" in delivery.last_error
    first_wait = delivery.next_attempt - timezone.now()
    assert timedelta(seconds=25) < first_wait <= timedelta(seconds=30)
    assert attempt_delivery(delivery.pk) == "skipped"  # not due yet: a duplicate job does nothing

    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt=timezone.now())
    assert attempt_delivery(delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert timedelta(seconds=55) < delivery.next_attempt - timezone.now() <= timedelta(seconds=60)  # doubled

    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt=timezone.now())
    assert attempt_delivery(delivery.pk) == "delivered"
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.response_status, delivery.last_error) == (3, 200, "")
    # Every try carried the same message id and body, each freshly signed and valid.
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1
    assert [unwrap(r, endpoint.secret).type for r in receiver.requests] == ["video.completed"] * 3

    # A day later, a failure is final.
    receiver.answers = [500]
    with django_capture_on_commit_callbacks():
        emit_video_event(make_generation(user, status="failed"))
    late = WebhookDelivery.objects.get(event_type="video.failed")
    WebhookDelivery.objects.filter(pk=late.pk).update(created=timezone.now() - timedelta(hours=24))
    assert attempt_delivery(late.pk) == "failed"


def test_an_unreachable_receiver_is_logged_and_retried(
    user, make_generation, django_capture_on_commit_callbacks
):
    from tests.live import free_port

    add_endpoint(user, f"http://127.0.0.1:{free_port()}/nobody-listens", [])
    with django_capture_on_commit_callbacks():
        emit_video_event(make_generation(user, status="succeeded"))
    assert attempt_delivery(only_delivery().pk) == "pending"
    delivery = only_delivery()
    assert delivery.response_status is None and "refused" in delivery.last_error


def test_the_sweeper_enqueues_due_retries_once_and_revives_lost_sends(
    user, make_generation, receiver, cpu_queue, django_capture_on_commit_callbacks
):
    add_endpoint(user, receiver.url, [])
    with django_capture_on_commit_callbacks(execute=True):
        emit_video_event(make_generation(user, status="succeeded"))
    assert cpu_queue.count == 1  # sent at once...
    assert retry_due_deliveries() == 0  # ...and not enqueued twice by the sweeper
    cpu_queue.empty()

    delivery = only_delivery()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.SENDING, claimed=timezone.now() - timedelta(hours=1)
    )  # a worker died while sending
    assert retry_due_deliveries() == 1
    assert retry_due_deliveries() == 0
    work(cpu_queue)
    assert only_delivery().status == WebhookDelivery.Status.DELIVERED
    assert len(receiver.requests) == 1


# --- the server's own network ----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8000/hook",
        "http://10.1.2.3/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://100.64.0.1/hook",
    ],
)
def test_private_and_loopback_addresses_are_refused(settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    with pytest.raises(UnsafeURL, match="non-public"):
        check_url(url)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/hook", "file:///etc/passwd", "javascript:alert(1)", "https://u:p@example.com/"]
)
def test_only_plain_http_and_https_urls_are_accepted(settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    with pytest.raises(UnsafeURL):
        check_url(url)


def test_every_address_a_name_resolves_to_is_checked(settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False

    def resolve(host, port, **kwargs):
        addresses = {"public.test": ["93.184.215.14"], "sneaky.test": ["93.184.215.14", "10.0.0.7"]}[host]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    assert check_url("https://public.test/hook") == ("public.test", 443, ["93.184.215.14"])
    with pytest.raises(UnsafeURL, match="10.0.0.7"):
        check_url("https://sneaky.test/hook")


def test_the_address_is_checked_again_when_sending(
    user, make_generation, receiver, settings, django_capture_on_commit_callbacks
):
    """A name that resolved to a public address when added may point inward later."""
    add_endpoint(user, receiver.url, [])
    with django_capture_on_commit_callbacks():
        emit_video_event(make_generation(user, status="succeeded"))
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    assert attempt_delivery(only_delivery().pk) == "pending"
    assert receiver.requests == []
    assert "non-public" in only_delivery().last_error


def test_the_page_refuses_a_private_url_and_stores_nothing(user_client, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    response = user_client.post(ADD, {"url": "http://127.0.0.1:6379/", "event_types": ["video.completed"]})
    assert response.status_code == 400
    assert "non-public" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


# --- the tokens page -----------------------------------------------------------------------


def test_adding_an_endpoint_shows_its_secret_once(user_client, user, receiver):
    response = user_client.post(
        ADD, {"url": receiver.url, "event_types": ["video.completed", "video.failed"]}
    )
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    endpoint = WebhookEndpoint.objects.get(owner=user)
    assert endpoint.secret.startswith("whsec_") and endpoint.secret in response.content.decode()
    assert endpoint.event_types == ["video.completed", "video.failed"]
    later = user_client.get(TOKENS).content.decode()
    assert endpoint.secret not in later and endpoint.secret_hint in later and receiver.url in later


def test_send_test_event_delivers_a_signed_sample_and_logs_it(
    user_client, user, receiver, cpu_queue, django_capture_on_commit_callbacks
):
    endpoint = add_endpoint(user, receiver.url, [])
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(reverse("api:test_webhook", args=[endpoint.pk]), follow=True)
    assert "test video.completed event is on its way" in response.content.decode()
    work(cpu_queue)
    [request] = receiver.requests
    assert unwrap(request, endpoint.secret).data.id == "video_testevent"
    page = user_client.get(TOKENS).content.decode()
    assert "Delivered" in page and "HTTP 200" in page


def test_test_events_are_rate_limited(user_client, user, receiver, settings):
    """Each test event is a request to a URL of the person's choosing: not a free flood."""
    settings.RATE_LIMIT_ENABLED = True
    settings.RATE_LIMIT_RATES = {**settings.RATE_LIMIT_RATES, "webhook": "2/m/user"}
    endpoint = add_endpoint(user, receiver.url, [])
    answers = [
        user_client.post(reverse("api:test_webhook", args=[endpoint.pk])).status_code for _ in range(3)
    ]
    assert answers == [302, 302, 429]
    assert WebhookDelivery.objects.count() == 2


def test_the_delivery_log_takes_a_fixed_number_of_queries(
    user_client, user, receiver, django_assert_num_queries, django_capture_on_commit_callbacks
):
    from api.webhooks import send_test_event

    with django_capture_on_commit_callbacks():
        for _ in range(3):
            endpoint = add_endpoint(user, receiver.url, [])
            for _ in range(12):
                send_test_event(endpoint)
    # user (the first page after signing in; the session comes from the cache), tokens,
    # endpoints, their deliveries, the layout's badge
    with django_assert_num_queries(5):
        response = user_client.get(TOKENS)
    assert [len(e.log) for e in response.context["endpoints"]] == [10, 10, 10]


def test_strangers_cant_remove_or_test_my_endpoint(client, user, other_user, receiver):
    endpoint = add_endpoint(user, receiver.url, [])
    client.force_login(other_user)
    for name in ("api:remove_webhook", "api:test_webhook"):
        assert client.post(reverse(name, args=[endpoint.pk])).status_code == 404
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert not WebhookDelivery.objects.exists()


def test_the_owner_removes_an_endpoint(user_client, user, receiver):
    endpoint = add_endpoint(user, receiver.url, [])
    response = user_client.post(reverse("api:remove_webhook", args=[endpoint.pk]))
    assert response.status_code == 302 and not WebhookEndpoint.objects.exists()


def test_there_is_a_limit_on_endpoints(user_client, user, receiver, settings):
    settings.WEBHOOK_MAX_ENDPOINTS = 2
    for _ in range(2):
        add_endpoint(user, receiver.url, [])
    response = user_client.post(ADD, {"url": receiver.url, "event_types": ["video.completed"]})
    assert response.status_code == 400 and "Remove one" in response.content.decode()
    assert WebhookEndpoint.objects.count() == 2


def test_the_admin_shows_the_delivery_log_without_secrets(client, staff_user, user, receiver):
    from api.webhooks import send_test_event

    endpoint = add_endpoint(user, receiver.url, [])
    send_test_event(endpoint)
    client.force_login(staff_user)
    listing = client.get(reverse("admin:api_webhookdelivery_changelist")).content.decode()
    assert "video.completed" in listing
    page = client.get(reverse("admin:api_webhookendpoint_change", args=[endpoint.pk])).content.decode()
    assert receiver.url in page and endpoint.secret not in page
