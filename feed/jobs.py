"""RQ entry points for the feed (run on `settings.CPU_QUEUE`). Jobs take ids and re-fetch rows."""

from feed import semantics
from feed.models import Post


def embed_post(post_id: int) -> bool:
    """Give a post its vector (caption and visible prompt; feed.semantics). Idempotent: the
    vector depends only on the post's text, so running twice writes the same bytes. False when
    the post is gone."""
    post = Post.objects.select_related("generation").filter(pk=post_id).first()
    if post is None:
        return False
    vector = semantics.embed([post.embedding_text()])[0]
    Post.objects.filter(pk=post_id).update(embedding=semantics.pack(vector))
    return True
