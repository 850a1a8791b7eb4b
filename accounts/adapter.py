from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    """Signup is always open as a page; the invite code on the form is what gates it."""

    def save_user(self, request, user, form, commit=True):
        user.display_name = form.cleaned_data.get("display_name", "")
        user.birth_date = form.cleaned_data.get("birth_date")
        return super().save_user(request, user, form, commit=commit)
