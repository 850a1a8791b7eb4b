from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from feed import bell


def notifications(request: HttpRequest) -> dict:
    """`unread_notifications` for the bell: one indexed COUNT (cached a few seconds, feed.bell),
    run only if a template reads it (htmx fragments don't)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def count() -> int:
        from feed.actions import unread_count

        return bell.unread(user.pk, unread_count)

    return {"unread_notifications": SimpleLazyObject(count)}
