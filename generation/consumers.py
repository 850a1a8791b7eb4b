import json

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from generation.events import user_group
from generation.models import Generation
from sora_site import metrics


class EventsConsumer(AsyncWebsocketConsumer):
    """`ws/events/`: one socket per page carrying the signed-in user's events.

    Server → client: whatever is published to `user.<id>` (generation progress, notifications).
    Client → server: {"type": "ping"} and {"type": "watch", "code": "..."} (the current state of
    one of *my* generations). Anything else gets an error message; nothing ever reveals whether
    another user's generation exists.
    """

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.user_id = user.pk
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await sync_to_async(metrics.websocket_change)(1)

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await sync_to_async(metrics.websocket_change)(-1)

    async def receive(self, text_data=None, bytes_data=None):
        try:
            message = json.loads(text_data or "")
        except (TypeError, ValueError):
            await self.send_json({"kind": "error", "error": "Messages must be JSON objects."})
            return
        if not isinstance(message, dict):
            await self.send_json({"kind": "error", "error": "Messages must be JSON objects."})
            return
        kind = message.get("type")
        if kind == "ping":
            await self.send_json({"kind": "pong"})
        elif kind == "watch" and isinstance(message.get("code"), str):
            event = await self.generation_event(message["code"][:64])
            if event is None:
                await self.send_json({"kind": "error", "error": "No such video."})
            else:
                await self.send_json(event)
        else:
            await self.send_json({"kind": "error", "error": "Unknown message type."})

    @database_sync_to_async
    def generation_event(self, code: str) -> dict | None:
        generation = Generation.objects.filter(code=code, owner_id=self.user_id).first()
        return generation.event() if generation else None

    async def user_event(self, message):
        await self.send_json(message["event"])

    async def send_json(self, content):
        await self.send(text_data=json.dumps(content))
