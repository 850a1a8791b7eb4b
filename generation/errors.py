"""Why a generation request is refused. Shared by generation, cameos and moderation so each can
refuse with a message for the person without importing the others."""


class GenerationRefused(Exception):
    """A request the site won't queue; `str(exc)` is the message for the person."""

    category = "refused"


class QuotaExceeded(GenerationRefused):
    """Over a limit; `limit` is it and `retry_after` the seconds until a slot frees, when known
    (the API sends them as `Retry-After` and `x-ratelimit-*` headers)."""

    category = "quota"

    def __init__(self, message: str, *, limit: int | None = None, retry_after: int | None = None):
        super().__init__(message)
        self.limit = limit
        self.retry_after = retry_after


class PolicyRefused(GenerationRefused):
    """The prompt policy said no; `category` names the rule category that was hit."""

    def __init__(self, message: str, category: str = "policy"):
        super().__init__(message)
        self.category = category


class ConsentRefused(GenerationRefused):
    """A cameo in the request may not be used by this person (or no longer may be)."""

    category = "cameo_consent"
