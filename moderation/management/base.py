from django.core.management.base import BaseCommand, CommandError

from accounts.models import User


class UserCommand(BaseCommand):
    """A staff command about one account, named by @handle (case-insensitive, @ optional)."""

    def add_arguments(self, parser):
        parser.add_argument("handle", help="the account's @handle")

    def get_user(self, handle: str) -> User:
        user = User.objects.filter(handle__iexact=handle.lstrip("@")).first()
        if user is None:
            raise CommandError(f"No user @{handle.lstrip('@')}.")
        return user
