"""Errors cameo actions raise for the person to read."""


class CameoRefused(Exception):
    """A cameo action the site won't do; `str(exc)` is the message for the person and `field`
    the form field it is about, if any."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field
