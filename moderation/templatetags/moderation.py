from django import template
from django.urls import reverse

from moderation import targets

register = template.Library()


@register.simple_tag(takes_context=True)
def report_url(context, target) -> str:
    """The report page of `target` (post, comment, user, cameo) for the viewer; empty for
    visitors who aren't signed in and for the viewer's own things."""
    user = getattr(context.get("request"), "user", None)
    if target is None or user is None or not user.is_authenticated:
        return ""
    kind = targets.kind_of(target)
    if kind is None:
        return ""
    if targets.owner_id_of(target) == user.pk:
        return ""
    return reverse("moderation:report", args=[kind, targets.code_of(target)])
