"""Webhooks as OpenAI's platform sends them: `video.completed`, `video.failed`, `video.cancelled`.

Each event is a JSON body `{"id": "evt_…", "object": "event", "created_at", "type", "data":
{"id": "video_…"}}`, signed the Standard Webhooks way (the `openai` package's
`client.webhooks.unwrap(body, headers, secret=...)` checks it): `webhook-id`, `webhook-timestamp`
and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` with the endpoint's
`whsec_` secret.

One WebhookDelivery row per event and endpoint holds the exact body and how sending went. It is
sent at once by a CPU-queue job (`api.jobs.deliver_webhook`), and retried with exponential
back-off by the sweeper (`retry_due_deliveries`, run by `sweep_generations`) for
WEBHOOK_RETRY_HOURS. The row is the truth, so a lost Redis job or a killed worker only delays a
delivery.

The server must not become a probe of its own network: only http(s) URLs whose host resolves to
public addresses only are accepted, checked when the endpoint is added and again at every send,
and the request goes to the address that was checked (no second lookup a DNS answer could
change). WEBHOOK_ALLOW_PRIVATE_URLS lifts the address rule for self-hosted receivers and tests.
"""

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
from datetime import timedelta
from urllib.parse import urlsplit

import django_rq
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from api.models import WebhookDelivery, WebhookEndpoint
from generation.models import Generation
from sora_site import queue

log = logging.getLogger(__name__)

EVENT_TYPES = [choice.value for choice in WebhookEndpoint.Event]
EVENT_FOR_STATUS = {
    Generation.Status.SUCCEEDED: WebhookEndpoint.Event.COMPLETED,
    Generation.Status.FAILED: WebhookEndpoint.Event.FAILED,
    Generation.Status.CANCELLED: WebhookEndpoint.Event.CANCELLED,
}
TEST_VIDEO_ID = "video_testevent"
MAX_BACKOFF_SECONDS = 4 * 3600
# A queued delivery job that hasn't run after this long is presumed lost (Redis flushed).
REQUEUE_AFTER = timedelta(minutes=10)
USER_AGENT = "SoraSite-Webhooks/1"


class UnsafeURL(ValueError):
    """A webhook URL this server won't call; the message says why, for the person."""


class EndpointRefused(ValueError):
    """Adding an endpoint was refused (too many); the message says why."""


# --- addresses -----------------------------------------------------------------------------


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_url(url: str) -> tuple[str, int, list[str]]:
    """(host, port, addresses) of a webhook URL this server may call, else UnsafeURL.

    Resolves the host (a DNS lookup) and requires every address it resolves to to be public,
    unless WEBHOOK_ALLOW_PRIVATE_URLS is on.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL("That isn't a valid URL.") from exc
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL("Only http:// and https:// URLs can receive webhooks.")
    if not parts.hostname:
        raise UnsafeURL("The URL has no host name.")
    if parts.username or parts.password:
        raise UnsafeURL("Put no user name or password in the URL; check the signature instead.")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL(f"The host name {parts.hostname!r} can't be resolved.") from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise UnsafeURL(f"The host name {parts.hostname!r} can't be resolved.")
    if not settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        for address in addresses:
            if not _is_public(ipaddress.ip_address(address.split("%")[0])):
                raise UnsafeURL(
                    f"{parts.hostname} resolves to {address}, a loopback, private or otherwise "
                    "non-public address; webhooks go only to public addresses."
                )
    return parts.hostname, port, addresses


# --- signing -------------------------------------------------------------------------------


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` of `message_id.timestamp.body`, keyed with the decoded secret."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def signed_headers(delivery: WebhookDelivery, timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    message_id = message_id_of(delivery)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(
            delivery.endpoint.secret, message_id, timestamp, delivery.body.encode()
        ),
    }


def message_id_of(delivery: WebhookDelivery) -> str:
    # Standard Webhooks' message id: the same on every retry, so receivers can drop duplicates.
    return "wh_" + delivery.event_id.removeprefix("evt_")


# --- endpoints and events ------------------------------------------------------------------


def add_endpoint(owner: User, url: str, event_types: list[str]) -> WebhookEndpoint:
    """A new endpoint of `owner`'s (its secret is shown to them once). Raises UnsafeURL or
    EndpointRefused; nothing is stored then."""
    check_url(url)
    if WebhookEndpoint.objects.filter(owner=owner).count() >= settings.WEBHOOK_MAX_ENDPOINTS:
        raise EndpointRefused(
            f"You have {settings.WEBHOOK_MAX_ENDPOINTS} webhook endpoints. Remove one you no longer use first."
        )
    types = [t for t in EVENT_TYPES if t in event_types] or list(EVENT_TYPES)
    return WebhookEndpoint.objects.create(owner=owner, url=url, event_types=types)


def _new_delivery(endpoint: WebhookEndpoint, event_type: str, video_id: str, created: int) -> WebhookDelivery:
    event_id = "evt_" + secrets.token_hex(16)
    body = {
        "id": event_id,
        "object": "event",
        "created_at": created,
        "type": event_type,
        "data": {"id": video_id},
    }
    return WebhookDelivery(
        endpoint=endpoint,
        event_id=event_id,
        event_type=event_type,
        body=json.dumps(body, separators=(",", ":")),
    )


def emit_video_event(generation: Generation) -> int:
    """Queue the `video.*` event of a finished generation for each of its owner's endpoints that
    asked for it; sent once the transaction commits. Returns how many deliveries were made.

    Called by generation.actions.generation_finished for every final status. Two queries when
    the owner has endpoints, one when not.
    """
    event_type = EVENT_FOR_STATUS.get(generation.status)
    if event_type is None:
        return 0
    endpoints = [
        e for e in WebhookEndpoint.objects.filter(owner_id=generation.owner_id) if event_type in e.event_types
    ]
    if not endpoints:
        return 0
    created = int((generation.finished or timezone.now()).timestamp())
    video_id = "video_" + generation.code
    deliveries = WebhookDelivery.objects.bulk_create(
        [_new_delivery(endpoint, event_type, video_id, created) for endpoint in endpoints]
    )
    ids = [d.pk for d in deliveries]
    transaction.on_commit(lambda: enqueue_deliveries(ids))
    return len(ids)


def send_test_event(
    endpoint: WebhookEndpoint, event_type: str = WebhookEndpoint.Event.COMPLETED
) -> WebhookDelivery:
    """A sample `video.completed` (about a video that doesn't exist) to check a receiver; it is
    signed, sent, retried and logged like any other event."""
    delivery = _new_delivery(endpoint, event_type, TEST_VIDEO_ID, int(time.time()))
    delivery.save()
    transaction.on_commit(lambda: enqueue_deliveries([delivery.pk]))
    return delivery


def cpu_queue():
    return django_rq.get_queue(settings.CPU_QUEUE)


def enqueue_deliveries(ids: list[int]) -> int:
    """Put delivery jobs on the CPU queue; with Redis down they wait for the sweeper."""
    enqueued = []
    for pk in ids:
        if not queue.enqueue_or_log(
            settings.CPU_QUEUE,
            "api.jobs.deliver_webhook",
            pk,
            job_timeout=settings.WEBHOOK_TIMEOUT_SECONDS * 3 + 30,
            result_ttl=600,
            failure_ttl=86400,
        ):
            break  # the rest would be refused too; the sweeper picks them all up
        enqueued.append(pk)
    if enqueued:
        WebhookDelivery.objects.filter(pk__in=enqueued).update(enqueued=timezone.now())
    return len(enqueued)


# --- sending -------------------------------------------------------------------------------


class DeliveryError(Exception):
    """The request could not be made or answered; the message goes in the delivery log."""


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST `body` to `url` at an address `check_url` allowed; the answer's status code.

    No redirects are followed (a receiver's 3xx counts as a failure), and the request goes to the
    checked address with the URL's host in `Host` and TLS SNI/certificate checks.
    """
    import urllib3
    from urllib3.exceptions import HTTPError

    host, port, addresses = check_url(url)
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    timeout = urllib3.Timeout(
        connect=min(5, settings.WEBHOOK_TIMEOUT_SECONDS), read=settings.WEBHOOK_TIMEOUT_SECONDS
    )
    default_port = 443 if parts.scheme == "https" else 80
    host_header = host if port == default_port else f"{host}:{port}"
    if ":" in host and not host.startswith("["):
        host_header = f"[{host}]" if port == default_port else f"[{host}]:{port}"
    headers = {"Host": host_header, "Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
    address = addresses[0]
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address, port, timeout=timeout, retries=False, server_hostname=host, assert_hostname=host
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False)
    try:
        response = pool.urlopen(
            "POST", path, body=body, headers=headers, redirect=False, preload_content=False
        )
        response.read(4096, decode_content=False)
        response.release_conn()
        return response.status
    except HTTPError as exc:
        raise DeliveryError(_short_error(exc)) from exc
    finally:
        pool.close()


def _short_error(exc: Exception) -> str:
    text = str(getattr(exc, "reason", None) or exc)
    if "timed out" in text.lower():
        return "The receiver didn't answer in time."
    if "refused" in text.lower():
        return "The connection was refused."
    return text[:300]


def backoff(attempts: int) -> timedelta:
    """Wait before attempt `attempts + 1`: the base, doubled for each failure, at most 4 h."""
    seconds = settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** min(max(attempts - 1, 0), 20)
    return timedelta(seconds=min(seconds, MAX_BACKOFF_SECONDS))


def attempt_delivery(delivery_id: int) -> str:
    """Send one delivery if it is due and nobody else is sending it; record how it went.

    Claims the row with a conditional UPDATE (pending and due → sending), so duplicate jobs are
    harmless. Returns the row's new status, or "skipped".
    """
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt__lte=now
    ).update(status=WebhookDelivery.Status.SENDING, claimed=now, attempts=F("attempts") + 1)
    if not claimed:
        return "skipped"
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    code, error = None, ""
    try:
        code = post(delivery.endpoint.url, delivery.body.encode(), signed_headers(delivery))
        if not 200 <= code < 300:
            error = f"The receiver answered HTTP {code}."
    except (UnsafeURL, DeliveryError) as exc:
        error = str(exc)
    return record_attempt(delivery, code, error)


def record_attempt(delivery: WebhookDelivery, code: int | None, error: str) -> str:
    now = timezone.now()
    fields = {"response_status": code, "last_error": error[:300], "claimed": None}
    if not error:
        fields.update(status=WebhookDelivery.Status.DELIVERED, delivered=now)
    else:
        retry_at = now + backoff(delivery.attempts)
        if retry_at > delivery.created + timedelta(hours=settings.WEBHOOK_RETRY_HOURS):
            fields["status"] = WebhookDelivery.Status.FAILED
        else:
            fields.update(status=WebhookDelivery.Status.PENDING, next_attempt=retry_at)
    WebhookDelivery.objects.filter(pk=delivery.pk, status=WebhookDelivery.Status.SENDING).update(**fields)
    return fields["status"]


def retry_due_deliveries() -> int:
    """Enqueue deliveries whose retry time has come (and ones whose job or worker was lost).

    Run by the sweeper every few seconds. Returns how many were enqueued.
    """
    now = timezone.now()
    lost_after = timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS * 3 + 60)
    WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.SENDING, claimed__lt=now - lost_after
    ).update(
        status=WebhookDelivery.Status.PENDING,
        next_attempt=now,
        claimed=None,
        last_error="The worker sending it stopped; sending again.",
    )
    due = list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt__lte=now)
        .filter(
            Q(enqueued__isnull=True) | Q(enqueued__lt=F("next_attempt")) | Q(enqueued__lt=now - REQUEUE_AFTER)
        )
        .values_list("pk", flat=True)[:500]
    )
    return enqueue_deliveries(due) if due else 0
