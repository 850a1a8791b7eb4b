from django.core.management.base import CommandError
from django.db import transaction

from moderation import actions, sanctions
from moderation.management.base import UserCommand


class Command(UserCommand):
    help = (
        "Suspend an account for some days (no login, sessions or API tokens until then), lift its "
        "suspension with --lift, or reactivate every account whose suspension has run out with "
        "--lift-expired (run that periodically)."
    )

    def add_arguments(self, parser):
        parser.add_argument("handle", nargs="?", help="the account's @handle")
        parser.add_argument(
            "--days", type=int, default=None, help="length (default MODERATION_SUSPENSION_DAYS)"
        )
        parser.add_argument("--reason", default="", help="told to the person and kept in the audit log")
        parser.add_argument("--lift", action="store_true", help="end this account's suspension now")
        parser.add_argument("--lift-expired", action="store_true", help="reactivate every expired suspension")
        parser.add_argument("--dry-run", action="store_true", help="say what would happen, change nothing")

    @transaction.atomic
    def handle(self, *args, handle, days, reason, lift, lift_expired, dry_run, **options):
        if lift_expired:
            if dry_run:
                self.stdout.write("Would reactivate accounts whose suspensions have run out.")
                return
            for user in sanctions.lift_expired_suspensions():
                self.stdout.write(f"Reactivated @{user.handle}.")
            return
        if not handle:
            raise CommandError("Name the account (or use --lift-expired).")
        user = self.get_user(handle)
        if lift:
            if dry_run:
                self.stdout.write(f"Would lift the suspension of @{user.handle}.")
                return
            actions.lift_sanctions(user, None, reason or "Lifted by staff.", via="manage.py suspend_user")
            self.stdout.write(f"@{user.handle} is active again.")
            return
        if not reason:
            raise CommandError("Give a --reason: the person is told, and the audit log keeps it.")
        if days is not None and not 1 <= days <= 3650:
            raise CommandError("--days must be between 1 and 3650.")
        if dry_run:
            self.stdout.write(f"Would suspend @{user.handle}.")
            return
        sanction = actions.suspend_user(user, None, reason, days=days, via="manage.py suspend_user")
        self.stdout.write(f"Suspended @{user.handle} until {sanction.until:%Y-%m-%d %H:%M %Z}.")
