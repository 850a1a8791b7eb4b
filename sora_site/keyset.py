"""Keyset paging: newest-first lists that cost the same however deep the scroll (feeds, follower
lists, notifications), and the opaque cursors that mark a position in them."""

from datetime import UTC, datetime, timedelta

from django.db import models
from django.db.models import Q

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def make_cursor(created: datetime, pk: int) -> str:
    """An opaque position in a newest-first list: `<microseconds since epoch>.<pk>`."""
    return f"{(created - EPOCH) // timedelta(microseconds=1)}.{pk}"


def parse_cursor(cursor: str) -> tuple[datetime, int] | None:
    """The (created, pk) of a cursor, or None for a missing or malformed one (= first page)."""
    try:
        micros, pk = cursor.split(".")
        return EPOCH + timedelta(microseconds=int(micros)), int(pk)
    except (AttributeError, ValueError, OverflowError):
        return None


class KeysetQuerySet(models.QuerySet):
    def newest_first(self, cursor: str = "") -> "KeysetQuerySet":
        """Newest first by (created, id), starting strictly after `cursor`.

        Keyset paging: each page costs the same however deep the scroll, and rows inserted
        meanwhile don't shift what the next page shows.
        """
        rows = self.order_by("-created", "-id")
        position = parse_cursor(cursor)
        if position is not None:
            created, pk = position
            rows = rows.filter(Q(created__lt=created) | Q(created=created, id__lt=pk))
        return rows
