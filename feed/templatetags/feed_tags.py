"""Template tags the generation pages use to show a draft's post state (owned by feed)."""

from django import template

from feed.forms import PostForm
from feed.models import Post

register = template.Library()


@register.simple_tag(takes_context=True)
def draft_post_state(context, generation) -> dict:
    """For a draft page: its post (if posted), the post it remixes (if the viewer may see it) and
    a posting form. Two queries; the visibility rule decides what the remix link may show."""
    request = context.get("request")
    user = getattr(request, "user", None)
    post = Post.objects.filter(generation=generation).first()
    source_post = None
    if generation.source_id and user is not None:
        source_post = (
            Post.objects.visible_to(user)
            .filter(generation_id=generation.source_id)
            .select_related("author")
            .first()
        )
    return {"post": post, "source_post": source_post, "form": PostForm()}
