"""The error shape the `openai` package parses: `{"error": {"message", "type", "param", "code"}}`.

The package picks its exception class by status code alone (400 BadRequestError, 401
AuthenticationError, 404 NotFoundError, 429 RateLimitError, 5xx InternalServerError) and shows
`error.message`, so every failure under /v1/ answers in this shape, never with an HTML page.
"""

import functools
import logging

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from sora_site.ratelimit import RateLimited

log = logging.getLogger(__name__)

INVALID_REQUEST = "invalid_request_error"

DEFAULT_TYPES = {401: INVALID_REQUEST, 429: "requests", 503: "server_error"}


class ApiError(Exception):
    """Raised by endpoints; rendered as the error shape with `status`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type or DEFAULT_TYPES.get(status, "server_error" if status >= 500 else INVALID_REQUEST)
        self.param = param
        self.code = code
        self.headers = headers or {}


def bad_request(message: str, *, param: str | None = None, code: str = "invalid_value") -> ApiError:
    return ApiError(400, message, param=param, code=code)


def not_found(message: str, *, param: str | None = None) -> ApiError:
    return ApiError(404, message, param=param, code="not_found")


def error_response(error: ApiError) -> HttpResponse:
    body = {"error": {"message": error.message, "type": error.type, "param": error.param, "code": error.code}}
    response = JsonResponse(body, status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


def _param_of(location: list) -> str | None:
    # ninja reports ["form", "seconds"], ["query", "limit"], ["body", "payload", "prompt"]...
    names = [str(part) for part in location[1:] if str(part) != "payload"]
    return ".".join(names) or None


def _validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    param = _param_of(list(first.get("loc", [])))
    missing = first.get("type") == "missing"
    message = (
        f"Missing required parameter: '{param}'."
        if missing and param
        else f"Invalid '{param}': {first.get('msg', 'invalid value')}."
        if param
        else "The request body could not be parsed."
    )
    return error_response(
        ApiError(400, message, param=param, code="missing_required_parameter" if missing else "invalid_value")
    )


def _authentication(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(
        ApiError(
            401,
            "Missing or invalid API key. Create a personal token under Settings > API tokens and "
            "send it as 'Authorization: Bearer <token>'.",
            code="invalid_api_key",
        )
    )


def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return error_response(ApiError(exc.status_code, str(exc)))


def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(not_found("Not found."))


def _bad_upload(request: HttpRequest, exc: Exception) -> HttpResponse:
    if isinstance(exc, RequestDataTooBig):
        return error_response(ApiError(413, "The request body is too large.", code="request_too_large"))
    return error_response(bad_request("The request body could not be parsed.", code="invalid_body"))


def duration_text(seconds: int) -> str:
    """OpenAI's `x-ratelimit-reset-*` notation: "17s", "6m0s", "1h2m3s"."""
    hours, rest = divmod(max(0, int(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def rate_limit_headers(retry_after: int, amount: int | None = None) -> dict[str, str]:
    """What the `openai` package reads from a 429: `Retry-After` (its retry waits exactly that,
    up to 2 minutes; longer and it gives up at once) and OpenAI's `x-ratelimit-*-requests`."""
    headers = {
        "Retry-After": str(retry_after),
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": duration_text(retry_after),
    }
    if amount is not None:
        headers["x-ratelimit-limit-requests"] = str(amount)
    return headers


def _rate_limited(request: HttpRequest, exc: RateLimited) -> HttpResponse:
    return error_response(
        ApiError(
            429, str(exc), code="rate_limit_exceeded", headers=rate_limit_headers(exc.retry_after, exc.amount)
        )
    )


def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return error_response(exc)


def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("API request %s %s failed", request.method, request.path)
    return error_response(
        ApiError(500, "The server had an error while processing your request.", code="internal_error")
    )


def install(api: NinjaAPI) -> None:
    """Replace ninja's `{"detail": ...}` answers with the error shape."""
    api.add_exception_handler(Exception, _unexpected)
    api.add_exception_handler(ApiError, _api_error)
    api.add_exception_handler(ValidationError, _validation)
    api.add_exception_handler(HttpError, _http_error)
    api.add_exception_handler(AuthenticationError, _authentication)
    api.add_exception_handler(Http404, _not_found)
    api.add_exception_handler(RateLimited, _rate_limited)
    api.add_exception_handler(SuspiciousOperation, _bad_upload)
    api.add_exception_handler(MultiPartParserError, _bad_upload)


def unknown_endpoint(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any other path under /v1/: a JSON 404 rather than the site's HTML page."""
    return error_response(
        not_found(f"Unknown request URL: {request.method} {request.path}. Check the path and method.")
    )


def with_json_405(view):
    """Wrap a ninja path view so a wrong method gets the error shape (ninja answers plain text)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            error = ApiError(
                405,
                f"{request.method} isn't allowed on {request.path}; use {response['Allow']}.",
                code="method_not_allowed",
                headers={"Allow": response["Allow"]},
            )
            return error_response(error)
        return response

    return wrapper
