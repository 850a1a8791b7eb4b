from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Invite, User


class InviteUnavailable(Exception):
    """The code is unknown, already used or expired."""


def issue_invites(owner: User | None, count: int) -> list[Invite]:
    """Create `count` fresh invite codes, owned by `owner` (None for staff-issued codes)."""
    return Invite.objects.bulk_create([Invite(created_by=owner) for _ in range(count)])


def check_invite(code: str) -> Invite:
    """Look up a usable invite for form validation; the real guard is `redeem_invite`."""
    invite = Invite.objects.filter(code=code.strip().lower()).first()
    if invite is None:
        raise InviteUnavailable("That invite code doesn't exist.")
    if invite.is_used:
        raise InviteUnavailable("That invite code has already been used.")
    if invite.is_expired:
        raise InviteUnavailable("That invite code has expired.")
    return invite


def redeem_invite(code: str, user: User) -> None:
    """Mark the code used by `user`, exactly once even under concurrent signups.

    The conditional UPDATE is the lock: of many transactions racing for one code, the database
    lets one change the row and the rest see zero rows changed. Call inside the transaction that
    created `user`, so a lost race rolls the account back too.
    """
    changed = (
        Invite.objects.usable().filter(code=code.strip().lower()).update(used_by=user, used_at=timezone.now())
    )
    if changed != 1:
        raise InviteUnavailable("That invite code has just been used by someone else.")


def welcome_new_account(user: User) -> None:
    """Everything a brand-new account gets: its own invite codes to hand out."""
    issue_invites(user, settings.INVITES_PER_USER)


@transaction.atomic
def create_account(*, handle: str, email: str, password: str, invite_code: str | None, **fields) -> User:
    """Create a user outside the web signup (tests, commands), with the same invite rule."""
    user = User.objects.create_user(handle=handle, email=email, password=password, **fields)
    if invite_code is not None:
        redeem_invite(invite_code, user)
    elif not settings.OPEN_SIGNUP:
        raise InviteUnavailable("An invite code is required.")
    welcome_new_account(user)
    return user
