from django.apps import AppConfig


class CameosConfig(AppConfig):
    name = "cameos"

    def ready(self) -> None:
        from cameos import receivers

        receivers.connect()
