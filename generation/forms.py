import re

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from generation import hooks
from generation.actions import MAX_SEED, capabilities
from generation.models import Generation

MAX_PROMPT = 1000
MAX_SOURCE_IMAGE_BYTES = 10 * 1024 * 1024
CAMEO_CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
# What Django decodes bytes that aren't UTF-8 (a lone surrogate among them) into: a prompt holding
# it was mangled on the way, and the model would be given the replacement characters.
BROKEN_TEXT = "\ufffd"


def seconds_choices(values) -> list[tuple[int, str]]:
    return [(s, f"{s} s") for s in values]


class CameoChoiceField(forms.MultipleChoiceField):
    """Checkboxes for the cameos offered to this person; any well-formed code is accepted, so a
    cameo that isn't (or is no longer) allowed reaches the consent check and its message."""

    widget = forms.CheckboxSelectMultiple

    def valid_value(self, value) -> bool:
        return bool(CAMEO_CODE_RE.match(str(value)))


class CreateForm(forms.Form):
    """One prompt, or a storyboard (the ShotFormSet beside it) when `use_storyboard` is on.

    `user` (optional) fills the cameo picker with the cameos they may use.
    """

    prompt = forms.CharField(
        max_length=MAX_PROMPT,
        required=False,
        error_messages={
            "max_length": "The prompt is %(show_value)d characters long; it can be at most %(limit_value)d characters."
        },
        widget=forms.Textarea(
            attrs={"rows": 4, "placeholder": "A corgi surfing a wave at sunset, with the sound of the sea"}
        ),
    )
    seconds = forms.TypedChoiceField(coerce=int, label="Duration")
    orientation = forms.ChoiceField(
        choices=Generation.Orientation.choices, initial=Generation.Orientation.PORTRAIT
    )
    seed = forms.IntegerField(
        required=False, min_value=0, max_value=MAX_SEED, help_text="Leave blank for a random seed."
    )
    use_storyboard = forms.BooleanField(required=False, label="Storyboard (several shots)")
    source = forms.CharField(required=False, widget=forms.HiddenInput())
    remix = forms.CharField(required=False, widget=forms.HiddenInput())
    cameos = CameoChoiceField(required=False)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        caps = capabilities()
        self.fields["seconds"].choices = seconds_choices(caps.durations)
        self.fields["seconds"].initial = caps.durations[0]
        offered = hooks.cast().picker(user) if user is not None and user.is_authenticated else []
        cameos = self.fields["cameos"]
        cameos.choices = offered
        cameos.help_text = (
            f"At most {settings.CAMEO_MAX_PER_VIDEO} per video, @mentions included. Their owners see the video. "
            "A cameo speaks in its owner's voice (when they allow it) only when it is the one person in the video."
        )

    def clean_prompt(self) -> str:
        prompt = self.cleaned_data["prompt"]
        if BROKEN_TEXT in prompt:
            raise ValidationError(
                "The prompt isn't valid text (it has bytes that aren't UTF-8). Please type it again."
            )
        return prompt

    def clean(self):
        data = super().clean()
        # A prompt refused for another reason (too long, broken text) is not also "missing".
        if (
            not data.get("use_storyboard")
            and "prompt" not in self.errors
            and not (data.get("prompt") or "").strip()
        ):
            self.add_error("prompt", "Describe the video you want.")
        return data


class ShotForm(forms.Form):
    prompt = forms.CharField(
        max_length=MAX_PROMPT, widget=forms.TextInput(attrs={"placeholder": "What happens in this shot"})
    )
    seconds = forms.TypedChoiceField(coerce=int)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["seconds"].choices = seconds_choices(capabilities().shot_durations)


class BaseShotFormSet(forms.BaseFormSet):
    def clean(self):
        if any(self.errors):
            return
        caps = capabilities()
        shots = self.shots()
        if len(shots) < caps.min_shots:
            raise ValidationError(f"A storyboard needs at least {caps.min_shots} shots.")
        if len(shots) > caps.max_shots:
            raise ValidationError(f"A storyboard has at most {caps.max_shots} shots.")
        total = sum(shot["seconds"] for shot in shots)
        if total > caps.max_total_seconds:
            raise ValidationError(f"The shots add up to {total} s; the most is {caps.max_total_seconds} s.")

    def shots(self) -> list[dict]:
        """Shots in the order the person arranged them, deleted ones left out."""
        kept = [f for f in self.forms if f.cleaned_data and not self._should_delete_form(f)]
        if self.can_order:
            kept.sort(key=lambda f: (f.cleaned_data.get("ORDER") is None, f.cleaned_data.get("ORDER") or 0))
        return [
            {"prompt": f.cleaned_data["prompt"].strip(), "seconds": f.cleaned_data["seconds"]} for f in kept
        ]


ShotFormSet = forms.formset_factory(
    ShotForm, formset=BaseShotFormSet, extra=0, can_delete=True, can_order=True, max_num=6, absolute_max=12,
    validate_max=True,
)  # fmt: skip


class RetakeForm(forms.Form):
    """Regenerate a time range of one's own video from a new prompt (the video page's small form)."""

    prompt = forms.CharField(max_length=MAX_PROMPT, strip=True)
    start = forms.FloatField(min_value=0, label="From (s)")
    end = forms.FloatField(min_value=0, label="To (s)")

    def clean_prompt(self) -> str:
        prompt = self.cleaned_data["prompt"]
        if BROKEN_TEXT in prompt:
            raise ValidationError(
                "The prompt isn't valid text (it has bytes that aren't UTF-8). Please type it again."
            )
        return prompt
