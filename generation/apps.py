from django.apps import AppConfig

from sora_site import metrics


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = "Videos"

    def ready(self) -> None:
        from generation import checks  # noqa: F401  (registers the voice settings checks)
        from generation.models import running_job_heartbeats

        metrics.register_job_heartbeats(running_job_heartbeats)
