from django import forms

from cameos.models import Cameo


class CameoSettingsForm(forms.ModelForm):
    """Who may use the cameo, and the owner's preferences and restrictions."""

    class Meta:
        model = Cameo
        fields = ["permission", "preferences", "restrictions"]
        widgets = {
            "permission": forms.RadioSelect,
            "preferences": forms.Textarea(attrs={"rows": 2, "placeholder": "always wearing a red hat"}),
            "restrictions": forms.Textarea(attrs={"rows": 2, "placeholder": "no politics, no alcohol"}),
        }
        labels = {"permission": "Who can use this cameo"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.owner.is_teen:
            self.fields["permission"].choices = [
                choice for choice in Cameo.Permission.choices if choice[0] != Cameo.Permission.EVERYONE
            ]
            self.fields["permission"].help_text = "Teen accounts can't let everyone use their cameo."


class ApprovalForm(forms.Form):
    handle = forms.CharField(
        max_length=31, label="Approve someone", widget=forms.TextInput(attrs={"placeholder": "@handle"})
    )


class DeleteCameoForm(forms.Form):
    keep_videos = forms.BooleanField(
        required=False,
        label="Keep the videos already made with it",
        help_text="Unticked, every video made with this cameo (yours and other people's, drafts and posts) is deleted too.",
    )


class RecordingForm(forms.Form):
    challenge = forms.CharField(max_length=32)
    recording = forms.FileField(allow_empty_file=True)


class VoiceForm(forms.Form):
    recording = forms.FileField(
        allow_empty_file=True,
        label="Or upload a recording of you reading it",
        widget=forms.ClearableFileInput(attrs={"accept": "audio/*,video/webm,video/mp4"}),
    )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented recipe); returns a list."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*,video/webm,video/mp4"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else []


class CharacterForm(forms.Form):
    name = forms.CharField(max_length=60, help_text="What people call it in prompts, e.g. Biscuit the corgi.")
    files = MultipleFileField(
        label="Pictures or a short clip",
        help_text="Up to 6 files: clear pictures or a clip of it, no people.",
    )
    attest = forms.BooleanField(
        label="This is my pet or object (not a person), and I have the right to let it appear in videos."
    )
