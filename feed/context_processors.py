from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def notifications(request: HttpRequest) -> dict:
    """`unread_notifications` for the bell: one indexed COUNT, run only if a template reads it
    (htmx fragments don't)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def count() -> int:
        from feed.actions import unread_count

        return unread_count(user.pk)

    return {"unread_notifications": SimpleLazyObject(count)}
