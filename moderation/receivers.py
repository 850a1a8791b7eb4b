"""Moderation's part in what the cameos app does (cameos sits below moderation): see
`cameos.signals`. Connected in `ModerationConfig.ready`."""

import numpy as np
from django.dispatch import receiver
from PIL import Image

from cameos import signals
from cameos.liveness import face_embeddings_in_frames
from moderation.models import PublicFigure
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
