from allauth.account.adapter import DefaultAccountAdapter
from django.contrib import messages

from accounts.signals import inactive_login, login_attempted


class AccountAdapter(DefaultAccountAdapter):
    """Signup is always open as a page; the invite code on the form is what gates it."""

    def save_user(self, request, user, form, commit=True):
        user.display_name = form.cleaned_data.get("display_name", "")
        user.birth_date = form.cleaned_data.get("birth_date")
        return super().save_user(request, user, form, commit=commit)

    def pre_login(self, request, user, **kwargs):
        # A suspension that has run out ends at the next login attempt (moderation's receiver).
        login_attempted.send(sender=self.__class__, user=user)
        return super().pre_login(request, user, **kwargs)

    def respond_user_inactive(self, request, user):
        for _receiver, message in inactive_login.send(sender=self.__class__, user=user):
            if message:
                messages.error(request, message)
        return super().respond_user_inactive(request, user)
