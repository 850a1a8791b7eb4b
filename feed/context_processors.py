from django.http import HttpRequest


def notifications(request: HttpRequest) -> dict:
    """Unread notification count for the bell (the feed work fills this in)."""
    return {}
