"""Bearer authentication with personal API tokens (accounts.ApiToken)."""

from django.http import HttpRequest
from ninja.security import HttpBearer

from accounts.models import ApiToken, User
from sora_site.ratelimit import limit


class TokenAuth(HttpBearer):
    """`Authorization: Bearer <token>`: the token's owner, if the token is live and they are active.

    One query per request (plus a throttled `last_used` touch). The owner becomes `request.user`, so
    the site's rules (visibility, quotas, consent) see the same person as on the web. Each
    authenticated request counts against the "api" rate limit (RATE_LIMIT_RATES); over it,
    sora_site.ratelimit.RateLimited becomes a 429 in the error shape (see api.errors).
    """

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        if not token or len(token) > 200:
            return None
        user = ApiToken.authenticate(token)
        if user is not None:
            request.user = user
            limit(request, "api")
        return user
