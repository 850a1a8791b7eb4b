"""Fixed-window rate limits on the Django cache, per user and per client IP.

RATE_LIMIT_RATES maps a scope ("comment", "report", "api", ...) to rates in allauth's notation:
"20/m/user,100/m/ip" is 20 a minute per signed-in user and 100 a minute per IP; the period is
s, m, h or d, optionally with a count ("10m"). Logins and signups are limited by allauth itself
(ACCOUNT_RATE_LIMITS) with the same cache. Across several web processes the limits hold only
with a shared cache (Redis); with the default local-memory cache each process counts its own.

Use `limit(request, scope)` in code that can turn RateLimited into its own answer (the API), or
the `@ratelimit(scope)` decorator on a view: it answers 429 with a clear message and Retry-After.
"""

import math
import re
import time
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*/\s*(user|ip)\s*$")
NOUNS = {
    "comment": "comments",
    "report": "reports",
    "api": "API requests",
    "export": "data downloads",
    "webhook": "webhook tests",
    "login": "sign-in attempts",
    "signup": "sign-ups",
}


@dataclass(frozen=True)
class Rate:
    amount: int
    seconds: int
    per: str


def parse_rates(spec: str) -> list[Rate]:
    rates = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        match = RATE.match(part)
        if match is None:
            raise ValueError(f"Bad rate {part!r}: write amount/period/per, like 20/m/user or 5/10m/ip.")
        amount, count, unit, per = match.groups()
        rates.append(Rate(int(amount), int(count or 1) * UNITS[unit], per))
    return rates


class RateLimited(Exception):
    """Too many requests in `scope`; `retry_after` seconds until the window that blocked ends;
    `amount` is that window's limit (the API reports it in `x-ratelimit-limit-requests`)."""

    def __init__(self, scope: str, retry_after: int, amount: int | None = None):
        self.scope = scope
        self.retry_after = retry_after
        self.amount = amount
        noun = NOUNS.get(scope, "requests")
        super().__init__(f"Too many {noun}. Please wait {wait_text(retry_after)} and try again.")


def wait_text(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    if seconds < 90 * 60:
        return f"{math.ceil(seconds / 60)} minutes"
    return f"{math.ceil(seconds / 3600)} hours"


def client_ip(request: HttpRequest) -> str:
    """The client's address as allauth sees it (ALLAUTH_TRUSTED_PROXY_COUNT and friends)."""
    from allauth.account.adapter import get_adapter

    try:
        return get_adapter(request).get_client_ip(request)
    except Exception:  # noqa: BLE001 - no address is still an answer: one shared bucket
        return request.META.get("REMOTE_ADDR") or "unknown"


def limit(request: HttpRequest, scope: str, rates: str | None = None) -> None:
    """Count one request in `scope` for this user and this IP; raise RateLimited over a limit.

    `rates` defaults to RATE_LIMIT_RATES[scope]; a scope without rates isn't limited. Costs one or
    two cache round trips per rate.
    """
    if not settings.RATE_LIMIT_ENABLED:
        return
    spec = rates if rates is not None else settings.RATE_LIMIT_RATES.get(scope, "")
    blocked = 0
    amount = None
    for rate in parse_rates(spec):
        if rate.per == "user":
            user = getattr(request, "user", None)
            if user is None or not user.is_authenticated:
                continue
            ident = f"u{user.pk}"
        else:
            ident = f"ip{client_ip(request)}"
        over, retry_after = hit(f"{scope}:{ident}", rate)
        if over and retry_after > blocked:
            blocked, amount = retry_after, rate.amount
    if blocked:
        raise RateLimited(scope, blocked, amount)


def hit(key: str, rate: Rate) -> tuple[bool, int]:
    """Count one in the current window of `rate`; (over the limit?, seconds left in the window)."""
    cache = caches[settings.RATE_LIMIT_CACHE]
    now = time.time()
    window = int(now // rate.seconds)
    cache_key = f"ratelimit:{key}:{rate.seconds}:{window}"
    cache.add(cache_key, 0, timeout=rate.seconds + 5)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=rate.seconds + 5)
        count = 1
    retry_after = max(1, math.ceil((window + 1) * rate.seconds - now))
    return count > rate.amount, retry_after


def too_many_requests(request: HttpRequest, exc: RateLimited | None = None) -> HttpResponse:
    """The 429 answer: JSON for the API and JSON clients, a fragment for htmx, else a page.

    Also fits `handler429` in the root URLconf, which allauth uses for its own limits.
    """
    message = str(exc) if exc else "Too many requests. Please wait a little and try again."
    retry_after = exc.retry_after if exc else 60
    if request.path.startswith("/v1/") or "application/json" in request.headers.get("Accept", ""):
        body = {
            "error": {"message": message, "type": "requests", "param": None, "code": "rate_limit_exceeded"}
        }
        response = JsonResponse(body, status=429)
    else:
        template = "includes/_429.html" if getattr(request, "htmx", False) else "429.html"
        response = render(request, template, {"message": message}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def ratelimit(scope: str, methods: tuple[str, ...] = ("POST",)):
    """View decorator: limit `methods` requests in `scope` (RATE_LIMIT_RATES), answering 429."""

    def decorator(view):
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method in methods:
                try:
                    limit(request, scope)
                except RateLimited as exc:
                    return too_many_requests(request, exc)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
