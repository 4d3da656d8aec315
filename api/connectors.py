"""Connectors and versions: the "Connectors and versions" section of docs/api.md."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import Path, Query, Router, Status
from ninja.errors import HttpError

from connections.services.versions import connector_version_delete
from connectors import selectors
from connectors.definition import MAX_FILE_BYTES, MAX_PUSH_BYTES, DefinitionError
from connectors.models import Connector, ConnectorVersion
from core.pager import InvalidCursor, KeysetOrder, keyset_page
from core.validation import Line
from profiles import selectors as profile_selectors
from profiles import services as profile_services
from projects.models import ApiKey, Project
from projects.services import Actor, ServiceError, client_ip

from .schemas import (
    ConnectorOut,
    PushOut,
    VersionDetailOut,
    VersionPageOut,
)

router = Router(tags=["connectors"])

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")


def _key(request: HttpRequest) -> ApiKey:
    return request.auth  # type: ignore[attr-defined]


def _actor(request: HttpRequest) -> Actor:
    return Actor(api_key=_key(request), ip=client_ip(request))


def _project(request: HttpRequest) -> Project:
    return _key(request).project


def _connector(project: Project, key: str) -> Connector:
    connector = selectors.connector_for_project(project, key)
    if connector is None:
        raise Http404(f"No connector “{key}” is visible to this project.")
    return connector


def _files_from_request(request: HttpRequest) -> list[tuple[str, bytes]]:
    """The main file and partials, with sizes checked before anything is read or parsed."""
    if (
        not request.META.get("CONTENT_LENGTH")
        and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    ):
        # Django reads a WSGI body by its Content-Length: a chunked body would read as empty.
        raise HttpError(411, "Send the push with a Content-Length (chunked bodies are refused).")
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    # multipart adds boundaries and headers; allow a little room before the exact checks.
    if length > MAX_PUSH_BYTES + 64 * 1024:
        raise DefinitionError(
            f"The push is {length:,} bytes; the limit is {MAX_PUSH_BYTES:,} bytes.", status=413
        )
    content_type = request.content_type or ""
    if content_type.startswith("multipart/form-data"):
        uploads = request.FILES.getlist("files")
        if not uploads:
            raise DefinitionError("Send the definition as one or more “files” parts.")
        for upload in uploads:
            if (upload.size or 0) > MAX_FILE_BYTES:
                raise DefinitionError(
                    f"{upload.name} is {upload.size:,} bytes; the limit is {MAX_FILE_BYTES:,} "
                    "bytes per file.",
                    status=413,
                )
        return [(upload.name or f"file{i}.yaml", upload.read()) for i, upload in enumerate(uploads)]
    if content_type in YAML_TYPES or not content_type:
        return [("connector.yaml", request.body)]
    raise HttpError(400, "Send application/yaml or multipart/form-data with “files”.")


def push_body(version: ConnectorVersion) -> dict[str, Any]:
    return {
        "key": version.connector.key,
        "version": version.version,
        "owner": version.owner,
        "builtin": version.builtin,
        "draft": version.is_draft,
        "published_at": version.published_at,
        "change_level": version.change_level,
        "messages": version.messages,
    }


@router.post(
    "/connectors/push",
    response={200: PushOut, 201: PushOut},
    summary="Publish (or save as draft) a custom version",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/yaml": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "files": {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                            }
                        },
                    }
                },
            }
        }
    },
)
def push(
    request: HttpRequest,
    force: bool = False,
    draft: bool = False,
    acknowledge_breaking: bool = False,
) -> Status[dict[str, Any]]:
    result = profile_services.connector_version_push(
        actor=_actor(request),
        project=_project(request),
        files=_files_from_request(request),
        force=force,
        draft=draft,
        acknowledge_breaking=acknowledge_breaking,
    )
    # 200 only when a published version was overwritten (docs/api.md); new versions and drafts 201.
    return Status(200 if result.overwritten else 201, push_body(result.version))


@router.get("/connectors", response=list[ConnectorOut], summary="Connectors visible to the project")
def connector_list(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {
            "key": c.key,
            "title": c.display_title,  # type: ignore[attr-defined]
            "description": c.display_description,  # type: ignore[attr-defined]
            "icon": c.display_icon or None,  # type: ignore[attr-defined]
            "latest_builtin": c.latest_builtin,  # type: ignore[attr-defined]
            "latest_custom": c.latest_custom,  # type: ignore[attr-defined]
        }
        for c in selectors.connectors_for_project(_project(request))
    ]


def _item(version: ConnectorVersion, headline: profile_selectors.Headline) -> dict[str, Any]:
    return {
        "id": version.pk,
        "name": version.version,
        "description": version.description,
        "builtin": version.builtin,
        "owner": version.owner,
        "isLatest": version.pk == headline.latest_id,
        "isDefault": version.pk == headline.default_id,
        "createdAt": version.created_at,
        "updatedAt": version.updated_at,
        "publishedAt": version.published_at,
        "messages": version.messages,
    }


NEWEST_UPDATED = KeysetOrder("updated_at", descending=True)
MAX_CURSOR = 500  # characters: a cursor is the base64 of a short JSON pair
KeyPath = Annotated[Line, Path(max_length=64)]
VersionPath = Annotated[Line, Path(max_length=255)]


@router.get(
    "/connectors/{key}/versions", response=VersionPageOut, summary="Versions, newest updated first"
)
def version_list(
    request: HttpRequest,
    key: KeyPath,
    first: Annotated[int, Query(ge=1, le=100, description="Page size, 1–100.")] = 20,
    after: Annotated[Line | None, Query(max_length=MAX_CURSOR)] = None,
    before: Annotated[Line | None, Query(max_length=MAX_CURSOR)] = None,
) -> dict[str, Any]:
    if after and before:
        raise ServiceError("Use either after or before, not both.", field="before")
    project = _project(request)
    connector = _connector(project, key)
    versions = selectors.versions_for_project(project, connector)
    cursor_field = "before" if before else "after"
    try:
        page = keyset_page(
            versions, NEWEST_UPDATED, after=after or "", before=before or "", limit=first
        )
    except InvalidCursor as exc:
        raise ServiceError(
            "The cursor is not valid; use a next/prev value from a response.", field=cursor_field
        ) from exc
    headline = profile_selectors.headline_versions(project, connector)
    return {
        "items": [_item(v, headline) for v in page.items],
        "totalCount": selectors.versions_total(project, connector),
        "next": page.next,
        "prev": page.prev,
    }


def _version(
    request: HttpRequest, key: str, version: str, owner: str | None = None
) -> ConnectorVersion:
    project = _project(request)
    connector = _connector(project, key)
    found = profile_selectors.version_by_name(project, connector, version, owner=owner)
    if found is None:
        raise Http404(f"No version “{version}” of {key} is visible to this project.")
    return found


@router.get(
    "/connectors/{key}/versions/{version}",
    response=VersionDetailOut,
    summary="One version with its definition (also latest / default)",
)
def version_detail(
    request: HttpRequest,
    key: KeyPath,
    version: VersionPath,
    owner: Annotated[Line | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    project = _project(request)
    found = _version(request, key, version, owner)
    headline = profile_selectors.headline_versions(project, found.connector)
    return {
        **_item(found, headline),
        "key": found.connector.key,
        "draft": found.is_draft,
        "change_level": found.change_level,
        "reauth_required": found.reauth_required,
        "change_report": found.change_report,
        "definition": found.definition,
    }


def _own_version(request: HttpRequest, key: str, version: str) -> ConnectorVersion:
    project = _project(request)
    connector = _connector(project, key)
    found = selectors.own_version(project, connector, version)
    if found is None:
        if selectors.version_is_visible(project, connector, version):
            raise HttpError(
                409, f"Version {version} of {key} is built-in; built-in versions are immutable."
            )
        raise Http404(f"This project has no version “{version}” of {key}.")
    return found


@router.post(
    "/connectors/{key}/versions/{version}/publish",
    response=PushOut,
    summary="Publish a draft",
)
def version_publish(
    request: HttpRequest, key: KeyPath, version: VersionPath, acknowledge_breaking: bool = False
) -> dict[str, Any]:
    published = profile_services.connector_version_publish(
        actor=_actor(request),
        version=_own_version(request, key, version),
        acknowledge_breaking=acknowledge_breaking,
    )
    return push_body(published)


@router.delete(
    "/connectors/{key}/versions/{version}",
    response={204: None},
    summary="Delete a custom version",
)
def version_delete(request: HttpRequest, key: KeyPath, version: VersionPath) -> HttpResponse:
    connector_version_delete(actor=_actor(request), version=_own_version(request, key, version))
    return HttpResponse(status=204)
