"""The feed's part in what the cameos app does (cameos sits below feed and can't call it): see
`cameos.signals`. Connected in `FeedConfig.ready`; each runs inside the cameo action's
transaction."""

from django.dispatch import receiver

from cameos import signals
from cameos.errors import CameoRefused
from cameos.models import CameoUse
from feed.actions import FeedRefused, block_user, delete_post, notify, unpost
from feed.models import Notification, Post


@receiver(signals.cameo_used, dispatch_uid="feed.cameo_used")
def notify_cameo_owner(sender, use: CameoUse, **kwargs) -> None:
    """The cameo owner's bell: someone used their cameo."""
    notify(use.cameo.owner_id, Notification.Kind.CAMEO_USE, actor=use.user, generation=use.generation)


@receiver(signals.consent_withdrawn, dispatch_uid="feed.consent_withdrawn")
def take_down_post(sender, generation, **kwargs) -> str:
    """Take the video's post down (the draft stays with its creator); its code, or ""."""
    post = Post.objects.filter(generation=generation).first()
    if post is None:
        return ""
    unpost(post)
    return post.code


@receiver(signals.video_removed, dispatch_uid="feed.video_removed")
def delete_removed_post(sender, generation, **kwargs) -> str:
    """Delete the video's post with its draft and files; its code, or "" when it wasn't posted."""
    post = Post.objects.filter(generation=generation).first()
    if post is None:
        return ""
    delete_post(post)
    return post.code


@receiver(signals.withdrawal_notice, dispatch_uid="feed.withdrawal_notice")
def notify_withdrawal(sender, author_id: int, message: str, **kwargs) -> None:
    """No actor: a block between the two must not swallow it. Not linked to the draft: it may be
    deleted next (a deleted cameo), taking the row with it."""
    notify(author_id, Notification.Kind.CONSENT_WITHDRAWN, message=message)


@receiver(signals.block_requested, dispatch_uid="feed.block_requested")
def block_from_cameo(sender, blocker, blocked, **kwargs) -> None:
    try:
        block_user(blocker, blocked)
    except FeedRefused as exc:
        raise CameoRefused(str(exc)) from exc
