"""The API's part in what generation (below it) does, connected from ApiConfig.ready()."""

from api.webhooks import emit_video_event
from generation.signals import generation_finished


def queue_webhooks(sender, generation, **kwargs) -> None:
    """The owner's webhook endpoints hear video.completed / video.failed / video.cancelled."""
    emit_video_event(generation)


def connect() -> None:
    generation_finished.connect(queue_webhooks, dispatch_uid="api.queue_webhooks")
