from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


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
