from django import forms

from feed.actions import CommentRefused, clean_comment_body
from feed.models import CAPTION_MAX_LENGTH, COMMENT_MAX_LENGTH, Post


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
