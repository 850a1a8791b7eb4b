"""Build the tiny random-weight LTX-2 model that tests, CI and GPU-less development run on."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from generation.engine.architectures import FAMILIES
from generation.engine.tiny import MARKER_FILE, build_tiny_model, is_tiny_model, rebuild_tiny_model


class Command(BaseCommand):
    help = (
        "Build a tiny random-weight LTX-2 pipeline (every component, same compression as the real "
        "model, ~9 MB) into DIRECTORY, fully offline, and print its path. Point SORA_VIDEO_MODEL at "
        "it with the 'tiny' profile. Output is patterned noise: it exercises the whole stack, it "
        "does not make real videos."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path, help="where to write the model (created if missing)")
        parser.add_argument(
            "--force",
            action="store_true",
            help=f"replace a tiny model already in DIRECTORY (a directory without {MARKER_FILE} is never deleted)",
        )
        parser.add_argument("--seed", type=int, default=0, help="weight seed (default 0)")
        parser.add_argument(
            "--family",
            choices=FAMILIES,
            default="ltx2",
            help="LTX architecture to build (profile 'tiny' for ltx2, 'tiny-<family>' otherwise)",
        )

    def handle(self, *args, directory: Path, force: bool, seed: int, family: str = "ltx2", **options):
        occupied = directory.exists() and any(directory.iterdir())
        if occupied and not force:
            if is_tiny_model(directory):
                raise CommandError(f"{directory} already holds a tiny model; pass --force to rebuild it")
            raise CommandError(f"{directory} is not empty")
        try:
            path = (
                rebuild_tiny_model(directory, seed=seed, family=family)
                if occupied
                else build_tiny_model(directory, seed=seed, family=family)
            )
        except FileExistsError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(str(path.resolve()))
