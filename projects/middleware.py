from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control

from core.cache import CacheUnavailable


class HtmxValidationStatusMiddleware:
    """Answer an HTMX request's form errors with 422 rather than 400.

    The partial carrying the errors is swapped in by htmx (see htmx-config in base.html);
    in DEBUG, django-htmx's script would instead replace the whole page for a 400.
    422 Unprocessable Content is also the more exact status for a well-formed but invalid form.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        htmx = getattr(request, "htmx", None)
        if response.status_code == 400 and htmx and not request.path.startswith("/api/"):
            response.status_code = 422
            response.reason_phrase = "Unprocessable Content"
        return response


API_PREFIX = "/api/"


class PrivateCacheControlMiddleware:
    """``Cache-Control: private, no-store`` on every answer to a logged-in user and on every
    API answer (errors included: a 403 names the key's prefix): they carry account data no
    shared cache or browser history may keep. Static files never get here (WhiteNoise answers
    them first) and stay cacheable; the login page and other anonymous pages are left as their
    views set them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(API_PREFIX):
            private = True
        else:
            user = getattr(request, "user", None)
            private = bool(user is not None and user.is_authenticated)
        if private:
            patch_cache_control(response, private=True, no_store=True)
        return response


class CacheUnavailableMiddleware:
    """A dashboard write that could not invalidate the shared cache (core.cache) was rolled
    back: answer 503 with a clear page instead of a 500. The API answers its own error body."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, CacheUnavailable):
            return None
        response = render(request, "503.html", {"message": exception.message}, status=503)
        response["Retry-After"] = "30"
        return response
