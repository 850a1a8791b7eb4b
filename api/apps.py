from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "Developer API"

    def ready(self) -> None:
        from api import receivers

        receivers.connect()
