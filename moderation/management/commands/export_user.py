from pathlib import Path

from django.utils import timezone

from moderation import userdata
from moderation.actions import record_action
from moderation.management.base import UserCommand
from moderation.models import ModerationAction


class Command(UserCommand):
    help = (
        "Write a zip of everything an account has (profile, posts, drafts with their videos, comments, "
        "likes, follows, cameos, ledger): the same file as the person's own 'Download my data'."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--output", help="zip file to write (default: <handle>-data-<date>.zip here)")
        parser.add_argument("--reason", default="Exported by staff.", help="kept in the audit log")

    def handle(self, *args, handle: str, output: str | None, reason: str, **options):
        user = self.get_user(handle)
        path = Path(output or f"{user.handle}-data-{timezone.now():%Y%m%d}.zip")
        with open(path, "wb") as file:
            counts = userdata.write_export(user, file)
        record_action(
            None, ModerationAction.Action.EXPORT_USER, target=user, target_repr=f"Profile @{user.handle}",
            affected_user=user, reason=reason, via="manage.py export_user",
        )  # fmt: skip
        if options["verbosity"] > 1:
            for name, count in sorted(counts.items()):
                self.stdout.write(f"{name}: {count}")
        self.stdout.write(str(path))
