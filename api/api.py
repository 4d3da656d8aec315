"""The JSON API (guide: docs/api.md; reference: the OpenAPI document), under /api/v1/."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

from connectors.definition import DefinitionError
from core.cache import CacheUnavailable
from projects.services import ServiceError
from runtime.engine import ActionFailure

from . import (
    connect_sessions,
    connection_imports,
    connections,
    connectors,
    profiles,
    rollouts,
    runtime,
    staged_rollouts,
    webhooks,
)
from .auth import api_key_auth
from .errors import error_body, error_response
from .openapi import DocumentedNinjaAPI
from .schemas import ProjectOut

logger = logging.getLogger(__name__)

api = DocumentedNinjaAPI(
    title="Connector Hub API",
    version="1",
    description=(
        "Connectors, versions, profiles, connections, connect sessions, profile migrations and "
        "webhooks."
    ),
    auth=api_key_auth(),
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url="/docs",
)


def _field_name(loc: list[str | int] | tuple[str | int, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "payload")]
    name = ""
    for part in parts:
        name += f"[{part}]" if part.isdigit() else (f".{part}" if name else part)
    return name


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    if any(tuple(error.get("loc", ()))[:1] == ("path",) for error in exc.errors):
        # A malformed id in the path names nothing that exists: 404, like an unknown one.
        return error_response(404, "Not found.")
    fields = [
        {"field": _field_name(error.get("loc", ())), "message": str(error.get("msg", "invalid"))}
        for error in exc.errors
    ]
    return error_response(400, "The request is not valid.", fields=fields)


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = error_response(401, "A valid project API key is required (Bearer or Basic).")
    response["WWW-Authenticate"] = 'Bearer realm="connector-hub", Basic realm="connector-hub"'
    return response


@api.exception_handler(Throttled)
def on_throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    seconds = int(exc.wait or 60)
    response = error_response(
        429,
        f"Too many wrong API keys from this address: try again in {seconds} seconds.",
    )
    response["Retry-After"] = str(seconds)
    return response


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(404, str(exc) or "Not found.", code=getattr(exc, "code", None))


@api.exception_handler(PermissionDenied)
def on_forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return error_response(403, str(exc) or "Forbidden.")


@api.exception_handler(ServiceError)
def on_service_error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    fields = [{"field": exc.field, "message": exc.message}] if exc.field else []
    return error_response(exc.status, exc.message, code=exc.code, fields=fields)


@api.exception_handler(ActionFailure)
def on_action_failure(request: HttpRequest, exc: ActionFailure) -> HttpResponse:
    body = error_body(exc.status, exc.message, code=exc.code, fields=exc.fields)
    body["provider_status"] = exc.provider_status
    for name in ("request_id", "version"):
        if getattr(exc, name, None) is not None:
            body[name] = str(getattr(exc, name))
    return JsonResponse(body, status=exc.status)


@api.exception_handler(DefinitionError)
def on_definition_error(request: HttpRequest, exc: DefinitionError) -> HttpResponse:
    fields = [{"field": e.field, "message": e.message} for e in exc.errors]
    return error_response(exc.status, exc.message, code=exc.code, fields=fields)


@api.exception_handler(TooManyFilesSent)
def on_too_many_files(request: HttpRequest, exc: TooManyFilesSent) -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
    return error_response(413, f"The request has more than {limit:,} files; that is the limit.")


@api.exception_handler(TooManyFieldsSent)
def on_too_many_fields(request: HttpRequest, exc: TooManyFieldsSent) -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    return error_response(413, f"The request has more than {limit:,} fields; that is the limit.")


@api.exception_handler(RequestDataTooBig)
def on_request_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return error_response(413, f"The request body is larger than the {limit:,}-byte limit.")


@api.exception_handler(MultiPartParserError)
def on_unreadable_multipart(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
    # Django's parser refuses a missing or overlong boundary and part headers past its limit.
    reason = str(exc)[:120]
    return error_response(400, f"The multipart/form-data body cannot be read: {reason}")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return error_response(exc.status_code, str(exc))


@api.exception_handler(CacheUnavailable)
def on_cache_unavailable(request: HttpRequest, exc: CacheUnavailable) -> HttpResponse:
    response = error_response(503, exc.message)
    response["Retry-After"] = "30"
    return response


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("Unhandled API error on %s %s", request.method, request.path)
    return error_response(500, "Something went wrong on our side; it has been logged.")


@api.get("/project", response=ProjectOut, tags=["project"], summary="The API key's project")
def project_detail(request: HttpRequest) -> ProjectOut:
    project = request.auth.project  # type: ignore[attr-defined]
    return ProjectOut.from_project(project)


api.add_router("", connectors.router)
api.add_router("", profiles.router)
api.add_router("", connection_imports.available_router)
api.add_router("", connections.router)
api.add_router("", connect_sessions.router)
api.add_router("", rollouts.router)
api.add_router("", staged_rollouts.router)
api.add_router("", runtime.router)
api.add_router("", webhooks.router)
