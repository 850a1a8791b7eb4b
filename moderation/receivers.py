"""Moderation's part in what the apps below it do: they can't import moderation (it builds on
them), so they send signals or keep registries, connected here from ModerationConfig.ready()."""

import numpy as np
from django.dispatch import receiver
from PIL import Image

from accounts.signals import inactive_login, login_attempted
from cameos import signals
from cameos.liveness import face_embeddings_in_frames
from feed.actions import BellSource, register_bell_source
from generation import hooks
from moderation import actions, policy, quotas, sanctions
from moderation.models import ModerationNotice, PublicFigure
from moderation.policy import check_cameo_preferences


@receiver(signals.preferences_submitted, dispatch_uid="moderation.preferences_submitted")
def judge_cameo_preferences(sender, owner, text: str, **kwargs) -> None:
    """Preferences steer every video the cameo is in: the prompt policy judges them first
    (raises PolicyRefused)."""
    check_cameo_preferences(owner, text)


@receiver(signals.likeness_wanted, dispatch_uid="moderation.likeness_wanted")
def closest_public_figure(sender, face, within: float, **kwargs):
    """(distance, figure) of the enabled public figure whose reference picture is closest to
    `face` within `within`, or None. A figure's embedding is computed once and kept with its
    picture's name."""
    mine = np.asarray(face, dtype=np.float64)
    best = None
    for figure in PublicFigure.objects.filter(enabled=True).exclude(reference_image=""):
        vector = figure_embedding(figure)
        if vector is None:
            continue
        distance = float(np.linalg.norm(mine - np.asarray(vector, dtype=np.float64)))
        if distance <= within and (best is None or distance < best[0]):
            best = (distance, figure)
    return best


def figure_embedding(figure: PublicFigure) -> list[float] | None:
    """The face embedding of a public figure's reference picture (its largest face), computed
    when the picture is new or changed and stored beside its name; None without a face."""
    stored = figure.face_embedding or {}
    if stored.get("image") == figure.reference_image.name:
        return stored.get("vector")
    with figure.reference_image.open("rb") as fh:
        rgb = np.asarray(Image.open(fh).convert("RGB"))
    faces = face_embeddings_in_frames([rgb])
    vector = faces[0] if faces else None
    PublicFigure.objects.filter(pk=figure.pk).update(
        face_embedding={"image": figure.reference_image.name, "vector": vector}
    )
    return vector


def lift_expired_suspension(sender, user, **kwargs) -> None:
    sanctions.lift_if_expired(user)


def explain_inactive_login(sender, user, **kwargs) -> str:
    return sanctions.sanction_message(user)


def unread_notices(user_id: int):
    """The bell counts unread moderation notices beside feed's notifications (one query)."""
    return ModerationNotice.objects.filter(recipient_id=user_id, read=False).order_by().values_list("pk")


def newest_unread_notices(user) -> list:
    return list(ModerationNotice.objects.filter(recipient=user, read=False).order_by("-created", "-id")[:20])


class GenerationChecks:
    """Moderation's checks of a video request and of a finished video (generation.hooks)."""

    def check_request(self, owner, texts: list[str], cast: list) -> None:
        policy.check_generation_request(owner, texts, cast)
        quotas.check_generation_quota(owner)

    def check_output(self, generation, frames, fps, audio, sample_rate):
        # The worker's check loads the output models; the web process never needs them.
        from moderation import output_check

        context = output_check.output_check_context(generation)
        return output_check.check_output(frames, fps, audio, sample_rate, **context)


def connect() -> None:
    login_attempted.connect(lift_expired_suspension, dispatch_uid="moderation.lift_expired_suspension")
    inactive_login.connect(explain_inactive_login, dispatch_uid="moderation.explain_inactive_login")
    register_bell_source(BellSource(unread_notices, newest_unread_notices, actions.mark_notices_read))
    hooks.register_checks(GenerationChecks())
