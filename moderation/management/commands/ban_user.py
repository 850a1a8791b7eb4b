from django.core.management.base import CommandError
from django.db import transaction

from moderation import actions
from moderation.management.base import UserCommand


class Command(UserCommand):
    help = "Ban an account (no login, sessions or API tokens), or lift a ban with --lift."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--reason", default="", help="told to the person and kept in the audit log")
        parser.add_argument("--lift", action="store_true", help="lift the ban")
        parser.add_argument("--dry-run", action="store_true", help="say what would happen, change nothing")

    @transaction.atomic
    def handle(self, *args, handle: str, reason: str, lift: bool, dry_run: bool, **options):
        user = self.get_user(handle)
        verb = "unban" if lift else "ban"
        if dry_run:
            self.stdout.write(f"Would {verb} @{user.handle}.")
            return
        if lift:
            actions.lift_sanctions(user, None, reason or "Lifted by staff.", via="manage.py ban_user")
            self.stdout.write(f"@{user.handle} is active again.")
            return
        if not reason:
            raise CommandError("Give a --reason: the person is told, and the audit log keeps it.")
        actions.ban_user(user, None, reason, via="manage.py ban_user")
        self.stdout.write(f"Banned @{user.handle}.")
