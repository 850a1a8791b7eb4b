from django import forms

from moderation.models import Reason


class ReportForm(forms.Form):
    reason = forms.ChoiceField(choices=Reason.choices, widget=forms.RadioSelect, label="What's wrong?")
    note = forms.CharField(
        required=False,
        max_length=1000,
        label="Anything moderators should know? (optional)",
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class DeleteAccountForm(forms.Form):
    """Confirms an irreversible erasure: the password, and the handle typed out."""

    password = forms.CharField(widget=forms.PasswordInput, label="Your password")
    handle = forms.CharField(label="Type your handle to confirm")

    def __init__(self, user, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That isn't your password.")
        return password

    def clean_handle(self) -> str:
        handle = self.cleaned_data["handle"].strip().lstrip("@")
        if handle.lower() != self.user.handle.lower():
            raise forms.ValidationError(f"Type @{self.user.handle} to confirm.")
        return handle
