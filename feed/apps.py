from django.apps import AppConfig


class FeedConfig(AppConfig):
    name = "feed"

    def ready(self) -> None:
        from feed import receivers  # the cameos signals' receivers connect on import

        receivers.connect()
