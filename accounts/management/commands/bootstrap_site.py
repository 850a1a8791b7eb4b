import secrets

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.actions import issue_invites
from accounts.models import User


class Command(BaseCommand):
    help = "First run: create a staff account and print its login and invite codes. Later runs do nothing."

    def add_arguments(self, parser):
        parser.add_argument("--handle", default="staff")
        parser.add_argument("--email", default="staff@localhost")

    @transaction.atomic
    def handle(self, *args, handle: str, email: str, **options):
        if User.objects.filter(is_staff=True).exists():
            self.stdout.write("Staff account exists; reusing the data in place.")
            return
        password = secrets.token_urlsafe(12)
        user = User.objects.create_superuser(
            handle=handle, email=email, password=password, display_name="Staff"
        )
        from allauth.account.models import EmailAddress

        EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
        codes = [invite.code for invite in issue_invites(user, settings.INVITES_PER_USER)]
        self.stdout.write(self.style.SUCCESS("Created the staff account:"))
        self.stdout.write(f"  login:    {handle}  (or {email})")
        self.stdout.write(f"  password: {password}")
        self.stdout.write("Invite links:")
        for code in codes:
            self.stdout.write(f"  {settings.SITE_URL}/invite/{code}")
