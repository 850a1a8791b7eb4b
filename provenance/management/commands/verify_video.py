import json

from django.contrib.auth.models import AnonymousUser
from django.core.management.base import BaseCommand, CommandError

from provenance.actions import verify_video
from provenance.verify import UnsupportedMediaError


class Command(BaseCommand):
    help = "Print the /verify verdict for a video file as JSON (what an anonymous visitor would see)."

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, file: str, **options):
        try:
            report = verify_video(file, viewer=AnonymousUser())
        except (UnsupportedMediaError, FileNotFoundError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(report, indent=2))
