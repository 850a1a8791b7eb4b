from django import forms


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=60,
        help_text="What the token is for, so you know which one to revoke later.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. laptop script"}),
    )

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()
