"""Sign-in backends that read the signed-in person's row through the cache (`User.cached`).

Django's backends fetch the user with a query on every request; these are Django's and allauth's
with `get_user` served from the cache, so a page needs no query to know who is asking. Sessions
are checked as before: `django.contrib.auth.get_user` compares the session's hash with the
(cached) user's password hash, and a password change saves the user, which forgets the entry.
"""

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend

from accounts.models import User


class CachedUser:
    def get_user(self, user_id):
        user = User.cached(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None


class ModelBackend(CachedUser, DjangoModelBackend):
    """Django's ModelBackend (handle and password), its user read through the cache."""


class AuthenticationBackend(CachedUser, AllauthBackend):
    """allauth's backend (email and password), its user read through the cache."""
