from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from provenance.certs import make_signing_cert


class Command(BaseCommand):
    help = (
        "Create a local root CA, intermediate and C2PA signing certificate (for development and the "
        "embedded default) where C2PA_SIGNING_KEY / C2PA_CERT_CHAIN / C2PA_TRUST_ANCHORS point."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dir", help="write here instead (prints the settings to use)")
        parser.add_argument("--force", action="store_true", help="replace an existing certificate")

    def handle(self, *args, dir: str | None, force: bool, **options):
        target = Path(dir) if dir else Path(settings.C2PA_SIGNING_KEY).parent
        if not force and (target / "c2pa-signer.key").exists():
            raise CommandError(f"{target} already has a signing key; use --force to replace it.")
        paths = make_signing_cert(target, organization=settings.SITE_NAME)
        self.stdout.write(f"C2PA_SIGNING_KEY={paths.key}")
        self.stdout.write(f"C2PA_CERT_CHAIN={paths.chain}")
        self.stdout.write(f"C2PA_TRUST_ANCHORS={paths.root}")
