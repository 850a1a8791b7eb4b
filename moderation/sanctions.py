"""Whether an account is suspended or banned, and lifting suspensions that have run out.

Suspending or banning an account also sets `is_active=False`, so Django refuses its logins and
sessions and ApiToken.authenticate refuses its tokens with no further wiring. A suspension ends
by itself: `lift_if_expired` (for the login path) or `lift_expired_suspensions` (for a periodic
`manage.py suspend_user --lift-expired`) make the account active again once no sanction is left.
"""

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from moderation.models import UserSanction


def in_force(user) -> UserSanction | None:
    """The ban, else the longest-running suspension in force for `user`, else None."""
    sanctions = list(UserSanction.objects.in_force().filter(user=user))
    bans = [s for s in sanctions if s.kind == UserSanction.Kind.BAN]
    if bans:
        return bans[0]
    return max(sanctions, key=lambda s: s.until, default=None)


def is_suspended(user) -> bool:
    """True while a suspension or ban is in force (what login should refuse)."""
    return UserSanction.objects.in_force().filter(user=user).exists()


def is_banned(user) -> bool:
    return UserSanction.objects.in_force().filter(user=user, kind=UserSanction.Kind.BAN).exists()


def sanction_message(user) -> str:
    """What to tell the person at login; empty when nothing is in force."""
    sanction = in_force(user)
    if sanction is None:
        return ""
    if sanction.kind == UserSanction.Kind.BAN:
        return "This account has been banned for breaking the community rules."
    until = timezone.localtime(sanction.until)
    return f"This account is suspended until {until:%b %d, %Y %H:%M %Z} for breaking the community rules."


@transaction.atomic
def lift_if_expired(user) -> bool:
    """Make `user` active again if they were inactive only through suspensions that have ended.

    Returns True when the account was reactivated (`user.is_active` is updated in place). Accounts
    deactivated for other reasons (no sanction rows) are left alone.
    """
    if user.is_active or is_suspended(user):
        return False
    ended = UserSanction.objects.filter(
        user=user, kind=UserSanction.Kind.SUSPENSION, lifted__isnull=True, until__lte=timezone.now()
    )
    if not ended.exists():
        return False
    ended.update(lifted=timezone.now())
    User.objects.filter(pk=user.pk).update(is_active=True)
    user.is_active = True
    return True


def lift_expired_suspensions() -> list[User]:
    """Reactivate every account whose suspensions have all ended; returns them."""
    candidates = User.objects.filter(
        is_active=False,
        sanctions__kind=UserSanction.Kind.SUSPENSION,
        sanctions__lifted__isnull=True,
        sanctions__until__lte=timezone.now(),
    ).distinct()
    return [user for user in candidates if lift_if_expired(user)]
