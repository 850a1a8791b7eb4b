from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.actions import issue_invites
from accounts.models import User


class Command(BaseCommand):
    help = "Print N new invite codes, one per line, optionally owned by a user (--for HANDLE)."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=1)
        parser.add_argument("--for", dest="handle", help="give the codes to this @handle")

    @transaction.atomic
    def handle(self, *args, count: int, handle: str | None, **options):
        if count < 1 or count > 1000:
            raise CommandError("--count must be between 1 and 1000.")
        owner = None
        if handle:
            owner = User.objects.filter(handle__iexact=handle.lstrip("@")).first()
            if owner is None:
                raise CommandError(f"No user @{handle.lstrip('@')}.")
        for invite in issue_invites(owner, count):
            self.stdout.write(invite.code)
