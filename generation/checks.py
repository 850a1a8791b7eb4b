"""System checks for the generation settings that name files on disk.

Voice checkpoints are never downloaded: a configured path that doesn't exist would otherwise
surface as a failed job hours later, so `manage.py check` (run by `runsite`, `migrate`, daphne's
startup via Django's checks, and every management command) stops the site with the reason instead.
"""

from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.compatibility)
def check_voice_settings(app_configs=None, **kwargs) -> list[Error]:
    from generation.voice.stage import check_voice_settings as route_two_problems

    errors = []
    if settings.VOICE_ID_LORA and not Path(settings.VOICE_ID_LORA).is_file():
        errors.append(
            Error(
                f"VOICE_ID_LORA names {settings.VOICE_ID_LORA!r}, which is not a file.",
                hint="Point it at a local ID-LoRA .safetensors file, or unset it to turn route 1 off.",
                id="generation.E001",
            )
        )
    errors.extend(
        Error(
            problem,
            hint="Nothing is downloaded at run time: fix the path or set VOICE_ROUTE=none.",
            id="generation.E002",
        )
        for problem in route_two_problems(settings)
    )
    return errors
