"""Build the tiny random-weight voice models (Demucs, WavLM, HiFi-GAN) for route 2 of cameo voice."""

import shutil
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from generation.voice.tiny import MARKER_FILE, build_tiny_voice_models, is_tiny_voice_models


class Command(BaseCommand):
    help = (
        "Build tiny random-weight voice models for VOICE_ROUTE=knnvc into --output, fully offline: an "
        "HTDemucs separator in a Demucs model directory, a 6-layer WavLM saved with save_pretrained and "
        "a HiFi-GAN vocoder in kNN-VC's published checkpoint format (~2 MB in all). Prints the "
        "VOICE_* settings that point at them. The converted voice is noise: they exercise the voice "
        "stage, they don't clone voices."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output", type=Path, required=True, help="directory to write the models to (created if missing)"
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help=f"replace tiny voice models already in --output (a directory without {MARKER_FILE} is never deleted)",
        )
        parser.add_argument("--seed", type=int, default=0, help="weight seed (default 0)")

    def handle(self, *args, output: Path, force: bool, seed: int, **options):
        if output.exists() and any(output.iterdir()):
            if not is_tiny_voice_models(output):
                raise CommandError(f"{output} is not empty")
            if not force:
                raise CommandError(f"{output} already holds tiny voice models; pass --force to rebuild them")
            shutil.rmtree(output)
        paths = build_tiny_voice_models(output, seed=seed)
        self.stdout.write("VOICE_ROUTE=knnvc")
        self.stdout.write(f"VOICE_DEMUCS_DIR={Path(paths['demucs_dir']).resolve()}")
        self.stdout.write(f"VOICE_DEMUCS_MODEL={paths['demucs_model']}")
        self.stdout.write(f"VOICE_WAVLM_DIR={Path(paths['wavlm_dir']).resolve()}")
        self.stdout.write(f"VOICE_VOCODER_PATH={Path(paths['vocoder_path']).resolve()}")
