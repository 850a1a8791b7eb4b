from django import forms

from feed.actions import CommentRefused, clean_comment_body
from feed.models import CAPTION_MAX_LENGTH, COMMENT_MAX_LENGTH, FeedSettings, Post


class PostForm(forms.Form):
    """Posting a finished draft."""

    caption = forms.CharField(max_length=CAPTION_MAX_LENGTH, required=False)
    hide_prompt = forms.BooleanField(required=False, label="Hide the prompt")
    visibility = forms.ChoiceField(choices=Post.Visibility.choices, initial=Post.Visibility.PUBLIC)


class CommentForm(forms.Form):
    body = forms.CharField(
        max_length=COMMENT_MAX_LENGTH,
        strip=True,
        label="Comment",
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Add a comment"}),
        error_messages={"required": "Write something first."},
    )
    parent = forms.CharField(required=False, max_length=32, widget=forms.HiddenInput())  # Comment.code

    def clean_body(self) -> str:
        try:
            return clean_comment_body(self.cleaned_data["body"])
        except CommentRefused as exc:
            raise forms.ValidationError(str(exc)) from None


class SteeringForm(forms.Form):
    """The line at the top of For You ("more cooking and animals, less pranks")."""

    steering = forms.CharField(
        max_length=FeedSettings._meta.get_field("steering").max_length,
        required=False,
        strip=True,
        label="Steer your feed",
        widget=forms.TextInput(attrs={"placeholder": "more cooking and animals, less pranks"}),
    )


class FeedSettingsForm(forms.ModelForm):
    scroll_limit = forms.IntegerField(
        min_value=0,
        max_value=1000,
        label="Take-a-break reminder after this many videos (0 = never)",
    )

    class Meta:
        model = FeedSettings
        fields = ["steering", "non_personalised", "scroll_limit"]
        labels = {
            "steering": "Steer your feed",
            "non_personalised": "Non-personalised feed (recent and popular videos only)",
        }
