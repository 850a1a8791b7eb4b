from django.core.management.base import CommandError

from moderation import actions, userdata
from moderation.management.base import UserCommand


class Command(UserCommand):
    help = (
        "Erase an account and all its data: posts, drafts and their files, cameos, comments, likes, "
        "follows, tokens. Others' replies keep an anonymised '[deleted]' parent. Irreversible: "
        "asks for --yes."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--reason", default="", help="kept in the audit log")
        parser.add_argument("--yes", action="store_true", help="really erase")
        parser.add_argument("--dry-run", action="store_true", help="count what would be erased")

    def handle(self, *args, handle: str, reason: str, yes: bool, dry_run: bool, **options):
        # Not one transaction: feed's and generation's delete actions remove files as they go;
        # each step is its own transaction, and the account row goes last.
        user = self.get_user(handle)
        if user.is_superuser:
            raise CommandError("Refusing to purge a superuser; take away superuser status first.")
        if dry_run:
            for model, rows in userdata.owned_querysets(user):
                if count := rows.count():
                    self.stdout.write(f"{userdata.export_name(model)}: {count}")
            return
        if not yes:
            raise CommandError(f"This erases @{user.handle} for good. Run again with --yes.")
        if not reason:
            raise CommandError("Give a --reason for the audit log.")
        summary = actions.purge_user(user, None, reason, via="manage.py purge_user")
        for name, count in sorted(summary.items()):
            self.stdout.write(f"{name}: {count}")
        self.stdout.write(f"Erased @{handle.lstrip('@')}.")
