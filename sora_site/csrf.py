"""A masked CSRF token for a page, as `django.middleware.csrf.get_token` makes it, with one
system call for its random mask instead of 32.

Django draws the 32 characters of each token's mask one by one through `secrets.choice` (a
`getrandom` call each) and finds every character's place in the alphabet by a linear search:
~40 µs of a feed page's server CPU, a tenth of what the page still cost beyond the trivial view
(BENCHMARKS.md, feed round 8). The mask here comes from one `os.urandom` read, by rejection
sampling (uniform over the alphabet, like `secrets.choice`), and the token is the same
construction: mask + (secret + mask, character by character, modulo the alphabet), which
`CsrfViewMiddleware` unmasks as it unmasks Django's own.
"""

import os

from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH, get_token

_PLACE = {c: i for i, c in enumerate(CSRF_ALLOWED_CHARS)}
_BASE = len(CSRF_ALLOWED_CHARS)
# The largest multiple of the alphabet's length a byte can reach: bytes at or past it are
# dropped, so every character is equally likely.
_LIMIT = 256 - 256 % _BASE


def random_places(count: int) -> list[int]:
    """`count` uniform random places in the CSRF alphabet, from the OS's CSPRNG."""
    places: list[int] = []
    while len(places) < count:
        places += [b % _BASE for b in os.urandom(count + count // 4) if b < _LIMIT]
    return places[:count]


def mask(secret: str) -> str:
    """`secret` masked with a fresh random mask (django.middleware.csrf._mask_cipher_secret)."""
    mask_places = random_places(CSRF_SECRET_LENGTH)
    chars = CSRF_ALLOWED_CHARS
    cipher = "".join(chars[(_PLACE[c] + m) % _BASE] for c, m in zip(secret, mask_places, strict=True))
    return "".join(chars[m] for m in mask_places) + cipher


def page_token(request) -> str:
    """What `get_token(request)` answers, with the same effects on the request: a request with
    a CSRF secret gets it freshly masked and its cookie renewed; one without goes to Django,
    which makes the secret and sets the cookie."""
    secret = request.META.get("CSRF_COOKIE")
    if secret is None or len(secret) != CSRF_SECRET_LENGTH:
        return get_token(request)
    request.META["CSRF_COOKIE_NEEDS_UPDATE"] = True  # as get_token: renew the cookie's expiry
    return mask(secret)
