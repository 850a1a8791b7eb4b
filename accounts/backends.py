"""Sign-in backends that read the signed-in person's row through the cache (`User.cached`).

Django's backends fetch the user with a query on every request; these are Django's and allauth's
with `get_user` served from the cache, so a page needs no query to know who is asking. Sessions
are checked as before: `django.contrib.auth.get_user` compares the session's hash with the
(cached) user's password hash, and a password change saves the user, which forgets the entry.
"""

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.core.cache import cache
from django.core.exceptions import ValidationError

from accounts.models import User


class CachedUser:
    def get_user(self, user_id):
        user = User.cached(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None


class ModelBackend(CachedUser, DjangoModelBackend):
    """Django's ModelBackend (handle and password), its user read through the cache."""


class AuthenticationBackend(CachedUser, AllauthBackend):
    """allauth's backend (email and password), its user read through the cache."""


def viewer_and_cached(request, keys_of) -> tuple:
    """`request.user`, and the cache entries named by `keys_of(user id)` (`keys_of(None)` for an
    anonymous visitor) as a dict of those found, read in one round trip together with the user's
    own entry: a page that reads cache entries of its viewer (For You: ranking, feed settings,
    bell) then needs two reads (the session, then the rest), not three (BENCHMARKS.md, feed
    round 8).

    The user is still checked as Django's `get_user` does (backend, active, session hash); the
    entries are handed back only if the request is signed in as the user the session named,
    else they are read again for whoever it is."""
    if not hasattr(request, "_cached_user"):  # not resolved yet (AuthenticationMiddleware is lazy)
        try:
            pk = User._meta.pk.to_python(request.session[SESSION_KEY])
        except (KeyError, ValueError, ValidationError):
            pk = None
        if pk is not None:
            found = cache.get_many([User.cache_key(pk), *keys_of(pk)])
            with User.read_with_others(pk, found.pop(User.cache_key(pk), None)):
                user = request.user
                signed_in = user.is_authenticated and user.pk == pk  # resolves the lazy user now
            if signed_in:
                return user, found
    user = request.user
    keys = keys_of(user.pk if user.is_authenticated else None)
    return user, cache.get_many(keys) if keys else {}
