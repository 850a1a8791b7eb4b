import gc
from importlib import import_module

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from whitenoise.middleware import WhiteNoiseMiddleware

# Scripts only from our own origin: no inline <script>, no eval. Styles allow inline attributes
# because the Django admin uses a few; nothing executes from a style attribute.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self' ws: wss:",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class AsyncCapable:
    """Base of our middleware: under daphne (ASGI) it runs on the event loop. One sync-only
    middleware in the stack makes Django hop to a thread for it and back to the loop for the
    next one, on every request (BENCHMARKS.md: the feed's profile under load)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)


class SecurityHeadersMiddleware(AsyncCapable):
    """Content-Security-Policy and Permissions-Policy on every response that doesn't set its own."""

    def __call__(self, request: HttpRequest):
        if self.async_mode:
            return self.__acall__(request)
        return self.add_headers(self.get_response(request))

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        return self.add_headers(await self.get_response(request))

    @staticmethod
    def add_headers(response: HttpResponse) -> HttpResponse:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        # The cameo recorder needs the camera and microphone, on our own pages only.
        response.headers.setdefault("Permissions-Policy", "camera=(self), microphone=(self), geolocation=()")
        return response


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, able to run on the event loop: WhiteNoise's own middleware is sync-only.
    A page request costs one dictionary lookup here."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response=None, settings=settings):
        super().__init__(get_response, settings=settings)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if self.async_mode:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        # Inline, not in a thread: finding a file is a dict lookup (a stat in DEBUG), serving it
        # opens the file; Django streams the body. Handing these to the loop's small default
        # executor stalled requests in the browser tests.
        static_file = (
            self.find_file(request.path_info) if self.autorefresh else self.files.get(request.path_info)
        )
        if static_file is not None:
            return self.serve(static_file, request)
        return await self.get_response(request)


_frozen = False


def freeze_what_the_server_loaded() -> None:
    """Take the objects loaded to serve requests (Django, the apps, the URLconf and its views)
    out of the cyclic garbage collector's sight, once per process.

    They live as long as the process, yet every full collection walked all ~160k of them: a
    pause of 40-200 ms (depending on load) every few seconds under the feed benchmark, which
    stalled every request in flight and was much of the pages' p99 at 1 s think time
    (BENCHMARKS.md, feed round 6). `gc.freeze()` leaves them to reference counting alone; what
    requests allocate later is collected as before."""
    global _frozen
    if _frozen:
        return
    _frozen = True
    import_module(settings.ROOT_URLCONF)  # the URLconf and the views it names, frozen too
    gc.freeze()


class LoadSheddingMiddleware(AsyncCapable):
    """Answer "503 busy, retry in a second" at once when this process already serves
    `WEB_MAX_IN_FLIGHT` requests (0: never), instead of queueing a request until it times out.

    Only under ASGI, where every request of the process passes through one event loop, so the
    count needs no lock; the health check is never shed (a load balancer must still see the
    process alive). Built once when an ASGI server starts serving, it also freezes what the
    server loaded (`freeze_what_the_server_loaded`)."""

    in_flight = 0

    def __init__(self, get_response):
        super().__init__(get_response)
        if self.async_mode:
            freeze_what_the_server_loaded()

    def __call__(self, request: HttpRequest):
        if self.async_mode:
            return self.__acall__(request)
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        limit = getattr(settings, "WEB_MAX_IN_FLIGHT", 0)
        if limit and LoadSheddingMiddleware.in_flight >= limit and request.path != "/healthz":
            response = HttpResponse(
                "The site is busy. Please try again in a moment.\n", status=503, content_type="text/plain"
            )
            response["Retry-After"] = "1"
            return response
        LoadSheddingMiddleware.in_flight += 1
        try:
            return await self.get_response(request)
        finally:
            LoadSheddingMiddleware.in_flight -= 1
