"""Feed's part in what the apps below it (generation, provenance) do: they can't import feed (it
builds on them), so they send signals or keep registries, connected here from FeedConfig.ready()."""

from feed import actions
from feed.models import Post
from generation import hooks
from generation.signals import generation_finished, output_flagged
from provenance.actions import PublicPost, register_posts


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
