"""Build a tiny random ID-LoRA for the tiny LTX-2 model, so route 1 of cameo voice runs offline."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from generation.engine.tiny import is_tiny_model
from generation.engine.tiny_voice import build_tiny_id_lora


class Command(BaseCommand):
    help = (
        "Write a random-weight ID-LoRA (the published ID-LoRA's key format and layers: audio "
        "attention, audio feed-forward and audio/video cross-attention of every block) for a tiny "
        "LTX-2 model to OUTPUT (.safetensors), fully offline, and print its path. Point "
        "VOICE_ID_LORA at it to exercise route 1 of cameo voice (reference-audio conditioning) "
        "without real weights. It changes the output but clones no voice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", type=Path, required=True, help="the .safetensors file to write")
        parser.add_argument(
            "--model",
            type=Path,
            default=None,
            help="tiny model directory (default: SORA_VIDEO_MODEL); build one with build_tiny_model",
        )
        parser.add_argument("--rank", type=int, default=4, help="LoRA rank (default 4)")
        parser.add_argument("--seed", type=int, default=0, help="weight seed (default 0)")
        parser.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")

    def handle(self, *args, output: Path, model: Path | None, rank: int, seed: int, force: bool, **options):
        model = Path(model or settings.SORA_VIDEO_MODEL)
        if not is_tiny_model(model):
            raise CommandError(f"{model} is not a tiny model (build one with build_tiny_model)")
        if output.suffix != ".safetensors":
            raise CommandError("--output must be a .safetensors file")
        if output.exists() and not force:
            raise CommandError(f"{output} exists; pass --force to overwrite it")
        if rank < 1:
            raise CommandError("--rank must be at least 1")
        path = build_tiny_id_lora(model, output, rank=rank, seed=seed)
        self.stdout.write(str(path.resolve()))
