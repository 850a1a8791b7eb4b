"""How the apps above generation take part in making a video.

generation sits low in the layers: cameos, moderation, feed and api build on its models, so it
can't import them. What it must ask them while a video is requested, made or shown goes through
the slots here, filled from their AppConfig.ready():

- `cast()`: who appears in a video (the cameos app, `cameos/receivers.py`): consent, the first
  frame and preferences, the cameo's voice, the Create page's picker, withdrawn drafts.
- `remixes()`: the post a remix starts from (feed, `feed/receivers.py`).
- `checks()`: moderation's checks of a request (prompt policy, daily quota) and of a finished
  video (`moderation/receivers.py`).

What others only need to hear about after the fact are signals (generation/signals.py).
"""

from dataclasses import dataclass
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse


@dataclass
class Conditioning:
    """What the engine gets from a generation's cameos."""

    image: Any  # PIL.Image: the first-frame conditioning, or None
    preferences: str  # appended to every shot's prompt, "" when none


class CastVoice(Protocol):
    """The voice of the one cameo in a video, when its owner lets it speak."""

    code: str
    owner_handle: str
    embedding: Any  # the speaker embedding (a list of floats)

    def speech(self) -> Any:
        """The accepted reading's speech: mono float32 at 16 kHz."""

    def matching_set(self) -> Any:
        """The kNN-VC matching set (computed from the reading and stored on first use)."""


class Cast(Protocol):
    def for_request(self, owner, texts: list[str], codes: list[str]) -> list:
        """The cameos a request uses (picked codes and @mentions); raises ConsentRefused."""

    def record_uses(self, generation, cast: list) -> None:
        """Record the uses in the caller's transaction."""

    def codes_for(self, generation) -> list[str]:
        """The cameo codes a generation used (a retry, retake or remix shows them again)."""

    def check_before_generating(self, generation) -> None:
        """Consent again right before generating; raises GenerationRefused."""

    def conditioning(self, generation) -> Conditioning: ...

    def voice_for(self, generation) -> CastVoice | None: ...

    def picker(self, user) -> list[tuple[str, str]]:
        """(code, label) of the cameos offered to `user` on the Create page."""

    def withdrawal_of_draft(self, code: str, viewer) -> object | None:
        """Why draft `code` may no longer be served to `viewer` (consent ended), or None."""

    def withdrawn_page(self, request: HttpRequest, withdrawal) -> HttpResponse:
        """The plain 410 page for such a draft."""


class Remixes(Protocol):
    def source(self, user, post_code: str):
        """The generation a remix of post `post_code` continues from; Http404 unless allowed."""

    def post(self, post_code: str) -> object | None:
        """The post being remixed, for the Create form's card (poster, caption, author)."""


class Checks(Protocol):
    def check_request(self, owner, texts: list[str], cast: list) -> None:
        """Raise PolicyRefused or QuotaExceeded (GenerationRefused subclasses)."""

    def check_output(self, generation, frames, fps: float, audio, sample_rate: int | None) -> Any:
        """The output check's result (outcome, category, reason, scores, top_frames)."""


_slots: dict[str, Any] = {}


def register_cast(cast: Cast) -> None:
    _slots["cast"] = cast


def register_checks(checks: Checks) -> None:
    _slots["checks"] = checks


def register_remixes(remixes: Remixes) -> None:
    _slots["remixes"] = remixes


def _filled(name: str, app: str) -> Any:
    try:
        return _slots[name]
    except KeyError:
        # Never run without them: a missing consent or policy check must not pass silently.
        raise ImproperlyConfigured(f"generation.hooks: {app} hasn't registered its {name}.") from None


def cast() -> Cast:
    return _filled("cast", "cameos")


def checks() -> Checks:
    return _filled("checks", "moderation")


def remixes() -> Remixes:
    return _filled("remixes", "feed")
