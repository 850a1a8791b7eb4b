from django import forms
from django.conf import settings


class VerifyForm(forms.Form):
    video = forms.FileField(label="Video file", widget=forms.ClearableFileInput(attrs={"accept": "video/*"}))

    def clean_video(self):
        upload = self.cleaned_data["video"]
        if upload.size == 0:
            raise forms.ValidationError("That file is empty.")
        if upload.size > settings.VERIFY_MAX_BYTES:
            raise forms.ValidationError(
                f"That file is too large ({settings.VERIFY_MAX_BYTES // 1_000_000} MB at most)."
            )
        return upload
