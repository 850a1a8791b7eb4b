from django.apps import AppConfig


class ProvenanceConfig(AppConfig):
    name = "provenance"

    def ready(self) -> None:
        from provenance import receivers  # the cameos signals' receivers connect on import

        receivers.connect()
