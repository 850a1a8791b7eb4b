from django.apps import AppConfig


class ModerationConfig(AppConfig):
    name = "moderation"

    def ready(self) -> None:
        from moderation import receivers  # the cameos signals' receivers connect on import

        receivers.connect()
