from allauth.account.adapter import DefaultAccountAdapter

from moderation import sanctions


class AccountAdapter(DefaultAccountAdapter):
    """Signup is always open as a page; the invite code on the form is what gates it."""

    def save_user(self, request, user, form, commit=True):
        user.display_name = form.cleaned_data.get("display_name", "")
        user.birth_date = form.cleaned_data.get("birth_date")
        return super().save_user(request, user, form, commit=commit)

    def pre_login(self, request, user, **kwargs):
        # A suspension that has run out ends at the next login attempt.
        sanctions.lift_if_expired(user)
        return super().pre_login(request, user, **kwargs)

    def respond_user_inactive(self, request, user):
        from django.contrib import messages

        message = sanctions.sanction_message(user)
        if message:
            messages.error(request, message)
        return super().respond_user_inactive(request, user)
