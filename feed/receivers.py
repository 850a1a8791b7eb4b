"""Feed's part in what the apps below it (generation, provenance) do: they can't import feed (it
builds on them), so they send signals or keep registries, connected here from FeedConfig.ready()."""

from django.dispatch import receiver

from cameos import signals
from cameos.errors import CameoRefused
from cameos.models import CameoUse
from feed import actions
from feed.actions import FeedRefused, block_user, delete_post, notify, unpost
from feed.models import Notification, Post
from generation import hooks
from generation.signals import generation_finished, output_flagged
from provenance.actions import PublicPost, register_posts


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


def ring_owner(sender, generation, **kwargs) -> None:
    actions.notify_generation_finished(generation)


def hide_flagged_post(sender, generation, **kwargs) -> None:
    """A re-check that no longer passes takes the video's post down until a moderator decides."""
    actions.hide_posts(Post.objects.filter(generation=generation))


def post_caption(generation) -> str | None:
    return Post.objects.filter(generation=generation).values_list("caption", flat=True).first()


def visible_post(generation, viewer) -> PublicPost | None:
    post = Post.objects.visible_to(viewer).filter(generation=generation).select_related("author").first()
    return PublicPost(url=post.get_absolute_url(), author=post.author.handle) if post is not None else None


class Remixes:
    """The post a remix starts from, for generation's Create page (generation.hooks)."""

    def source(self, user, post_code: str):
        return actions.remix_source(user, post_code)

    def post(self, post_code: str) -> Post | None:
        return Post.objects.select_related("author").filter(code=post_code).first()


def connect() -> None:
    generation_finished.connect(ring_owner, dispatch_uid="feed.ring_owner")
    output_flagged.connect(hide_flagged_post, dispatch_uid="feed.hide_flagged_post")
    register_posts(post_caption, visible_post)
    hooks.register_remixes(Remixes())
