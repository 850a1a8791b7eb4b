from django import forms

from api.models import WebhookEndpoint
from api.webhooks import UnsafeURL, check_url


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=60,
        help_text="What the token is for, so you know which one to revoke later.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. laptop script"}),
    )

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(
        label="Endpoint URL",
        max_length=500,
        assume_scheme="https",
        help_text="Receives a signed POST for each event; answer with a 2xx status.",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/webhooks/sora"}),
    )
    event_types = forms.MultipleChoiceField(
        label="Events",
        choices=WebhookEndpoint.Event.choices,
        initial=[choice.value for choice in WebhookEndpoint.Event],
        widget=forms.CheckboxSelectMultiple,
    )

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            check_url(url)
        except UnsafeURL as exc:
            raise forms.ValidationError(str(exc)) from None
        return url
