from django.core.management.base import CommandError
from django.db import transaction

from accounts.actions import issue_invites
from moderation.actions import record_action
from moderation.management.base import UserCommand
from moderation.models import ModerationAction


class Command(UserCommand):
    help = "Give an account more invite codes to hand out (printed one per line)."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--count", type=int, default=1, help="how many codes (1-100)")
        parser.add_argument("--reason", default="Granted by staff.", help="for the audit log")
        parser.add_argument("--dry-run", action="store_true", help="say what would happen, change nothing")

    @transaction.atomic
    def handle(self, *args, handle: str, count: int, reason: str, dry_run: bool, **options):
        if not 1 <= count <= 100:
            raise CommandError("--count must be between 1 and 100.")
        user = self.get_user(handle)
        if dry_run:
            self.stdout.write(f"Would give @{user.handle} {count} invite code(s).")
            return
        invites = issue_invites(user, count)
        record_action(
            None, ModerationAction.Action.GRANT_INVITES, target=user, target_repr=f"Profile @{user.handle}",
            affected_user=user, reason=f"{count} invite(s). {reason}", via="manage.py grant_invites",
        )  # fmt: skip
        for invite in invites:
            self.stdout.write(invite.code)
        if options["verbosity"] > 1:
            self.stderr.write(f"Gave @{user.handle} {count} invite code(s).")
