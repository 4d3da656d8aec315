from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .errors import error_response

API_PREFIX = "/api/"
# Query parameters that are lists in the OpenAPI document; any other one given twice is
# refused (the router would read one of the values and silently drop the others).
REPEATABLE_QUERY_PARAMS = frozenset({"resource_ids"})


class ApiErrorBodyMiddleware:
    """Under /api/, turn Django's plain 404/405/500 pages into the API's JSON error body."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(API_PREFIX):
            for name in request.GET:
                if name not in REPEATABLE_QUERY_PARAMS and len(request.GET.getlist(name)) > 1:
                    return error_response(
                        400,
                        f"The query parameter {name[:100]} is given more than once.",
                        fields=[{"field": name[:100], "message": "is given more than once"}],
                    )
        response = self.get_response(request)
        if (
            request.path.startswith(API_PREFIX)
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            replacement = error_response(response.status_code)
            for header in ("Allow", "WWW-Authenticate"):
                if header in response:
                    replacement[header] = response[header]
            return replacement
        return response
