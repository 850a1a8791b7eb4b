"""Push events to a user's open pages over Channels (group `user.<id>`).

Publishing is best effort: a page that misses an event still renders the truth on reload, so a
Redis hiccup must never fail the job that publishes.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def publish(user_id: int, event: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(user_group(user_id), {"type": "user.event", "event": event})
    except Exception:  # noqa: BLE001 - see module docstring
        log.warning("could not publish %s event to user %s", event.get("kind"), user_id, exc_info=True)
