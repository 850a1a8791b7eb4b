"""Push events to a user's open pages over Channels (group `user.<id>`).

Publishing is best effort: a page that misses an event still renders the truth on reload, so a
Redis hiccup must never fail the job that publishes.

Events leave only once the caller's transaction commits (at once outside a transaction), as
Zulip's `send_event_on_commit` does: a browser must never be told about a change that is then
rolled back (a stopped video, a notification) and read a page that disagrees.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def publish(user_id: int, event: dict) -> None:
    """Send `event` to the user's open pages when the current transaction commits (now if none)."""
    transaction.on_commit(lambda: send_now(user_id, event))


def send_now(user_id: int, event: dict) -> None:
    """Send at once, whatever the transaction: for callers that know they are outside one."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(user_group(user_id), {"type": "user.event", "event": event})
    except Exception:  # noqa: BLE001 - see module docstring
        log.warning("could not publish %s event to user %s", event.get("kind"), user_id, exc_info=True)
