from datetime import date

from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.conf import settings
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.db import transaction
from django.template.response import TemplateResponse
from django.utils import timezone

from accounts import avatars
from accounts.actions import InviteUnavailable, check_invite, redeem_invite, welcome_new_account
from accounts.models import RESERVED_HANDLES, User, age_on, handle_validator


def clean_handle_value(value: str, *, exclude_pk: int | None = None) -> str:
    value = value.strip().lstrip("@")
    handle_validator(value)
    if value.lower() in RESERVED_HANDLES:
        raise forms.ValidationError("That handle is reserved.")
    taken = User.objects.filter(handle__iexact=value)
    if exclude_pk:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise forms.ValidationError("That handle is taken.")
    return value


class SignupForm(AllauthSignupForm):
    """allauth's signup plus invite code, display name and birth date.

    The invite is redeemed in the same transaction that creates the account, so a code that
    loses a race leaves no account behind.
    """

    invite_code = forms.CharField(max_length=32, required=False, label="Invite code")
    display_name = forms.CharField(max_length=50, required=False)
    birth_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Birth date")

    field_order = ["invite_code", "email", "username", "display_name", "birth_date", "password1", "password2"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Handle"
        self.fields["username"].help_text = "3–30 letters, digits, '_' or '.'; people find you as @handle."
        if settings.OPEN_SIGNUP:
            self.fields["invite_code"].widget = forms.HiddenInput()
        else:
            self.fields["invite_code"].required = True

    def clean_username(self) -> str:
        value = super().clean_username()
        return clean_handle_value(value)

    def clean_invite_code(self) -> str:
        code = self.cleaned_data.get("invite_code", "").strip().lower()
        if settings.OPEN_SIGNUP and not code:
            return ""
        try:
            check_invite(code)
        except InviteUnavailable as exc:
            raise forms.ValidationError(str(exc)) from None
        return code

    def clean_birth_date(self) -> date:
        born = self.cleaned_data["birth_date"]
        today = timezone.localdate()
        if born > today:
            raise forms.ValidationError("That birth date is in the future.")
        if age_on(born, today) < settings.MINIMUM_AGE:
            raise forms.ValidationError(f"You must be at least {settings.MINIMUM_AGE} to join.")
        if age_on(born, today) > 120:
            raise forms.ValidationError("Please enter your real birth date.")
        return born

    def try_save(self, request):
        try:
            with transaction.atomic():
                user, response = super().try_save(request)
                if user is not None:
                    if self.cleaned_data.get("invite_code"):
                        redeem_invite(self.cleaned_data["invite_code"], user)
                    welcome_new_account(user)
        except InviteUnavailable as exc:
            self.add_error("invite_code", str(exc))
            return None, TemplateResponse(request, "account/signup.html", {"form": self}, status=400)
        return user, response


class ProfileForm(forms.ModelForm):
    # A plain file field: size, type and dimensions are all checked by avatars.normalise_avatar,
    # before Pillow parses more than the header (ImageField would decode a 6 MB file first).
    avatar = forms.FileField(required=False, widget=forms.ClearableFileInput(attrs={"accept": "image/*"}))

    class Meta:
        model = User
        fields = ["display_name", "bio", "avatar"]
        widgets = {"bio": forms.Textarea(attrs={"rows": 3})}

    def clean_avatar(self):
        upload = self.cleaned_data.get("avatar")
        if not upload or upload == self.instance.avatar:
            return upload
        try:
            data = avatars.normalise_avatar(upload)
        except avatars.AvatarError as exc:
            raise forms.ValidationError(str(exc)) from None
        return InMemoryUploadedFile(data, "avatar", "avatar.jpg", "image/jpeg", data.getbuffer().nbytes, None)
