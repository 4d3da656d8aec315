"""Dashboard pages for connectors and versions: catalogue, versions, compare, upload."""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.uploadedfile import UploadedFile
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from connections import selectors as connection_selectors
from connections.services.versions import connector_version_delete
from connectors import selectors, services
from connectors.changes import ChangeReport, sectioned_diff, structured_diff
from connectors.definition import MAX_FILE_BYTES, MAX_PUSH_BYTES, DefinitionError
from connectors.models import Connector, ConnectorVersion
from connectors.permissions import get_connector_for_user, get_connector_version_for_user
from connectors.services import PushPreview
from core.forms import first_error
from dashboard.connections import panels as connection_panels
from dashboard.context import project_context
from dashboard.profiles import panels as profile_panels
from dashboard.projects.forms import PageForm, SearchForm
from dashboard.rollouts import panels as rollout_panels
from dashboard.runtime import panels as runtime_panels
from profiles import services as profile_services
from projects.http import HtmxHttpRequest
from projects.models import Project
from projects.permissions import Need, ProjectAccess, get_project_for_user
from projects.services import Actor, ServiceError
from rollouts.services import staged

from .forms import CompareForm, PublishForm, VersionPublishForm

VERSIONS_PAGE_SIZE = 25


# What other apps show on these pages, assembled here from their selectors (profiles: the
# latest/default badges; connections: adoption and the Link account panel; rollouts: migration
# warnings and offers; runtime: request figures and Try it).


def connector_page_panels(
    request: HtmxHttpRequest, access: ProjectAccess, connector: Connector, *, partial: bool
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "request": request,
        "access": access,
        "connector": connector,
        "partial": partial,
    }
    return {
        **profile_panels.connector_headline(**kwargs),
        **connection_panels.connector_panels(**kwargs),
        **rollout_panels.connector_migrations(**kwargs),
    }


def version_page_panels(
    request: HtmxHttpRequest, access: ProjectAccess, version: ConnectorVersion
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"request": request, "access": access, "version": version}
    return {
        **profile_panels.version_headline(**kwargs),
        **runtime_panels.version_panels(**kwargs),
        **rollout_panels.version_offer(**kwargs),
    }


PUBLISH_CHOICES = [("move", "Move now"), ("stage", "Stage (a rollout)"), ("hold", "Hold")]


def upload_preview_panels(project: Project, preview: PushPreview) -> dict[str, Any]:
    """The profiles the publish would move, each with the publish-time choice; those it moves
    across a major or an authentication change with the connections on them (the page asks to
    confirm those, naming the count)."""
    panels = profile_panels.publish_moves(project=project, preview=preview)
    guarded = [
        {"move": move, "connections": connection_selectors.count_on_profile(move.profile)}
        for move in panels["guarded_moves"]
    ]
    return {**panels, "guarded_moves": guarded, "publish_choices": PUBLISH_CHOICES}


@require_GET
@login_required
def connector_list(request: HtmxHttpRequest, project_slug: str) -> HttpResponse:
    access = get_project_for_user(request.user, project_slug)
    query = SearchForm(request.GET)
    valid = query.is_valid()
    search = query.cleaned_data["q"] if valid else ""
    connectors = list(selectors.connectors_for_project(access.project, search=search))
    template = "dashboard/connectors/list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#catalogue"
    context = project_context(
        request,
        access,
        nav="connectors",
        connectors=connectors,
        search=search,
        search_error=None if valid else first_error(query)[1],
    )
    return render(request, template, context, status=200 if valid else 400)


@require_GET
@login_required
def connector_detail(request: HtmxHttpRequest, project_slug: str, key: str) -> HttpResponse:
    access, connector = get_connector_for_user(request.user, project_slug, key)
    versions = selectors.versions_highest_first(access.project, connector)
    query = PageForm(request.GET)
    number = query.cleaned_data["page"] if query.is_valid() else None
    page = Paginator(versions, VERSIONS_PAGE_SIZE).get_page(number)
    rows = list(page.object_list)
    for index, row in enumerate(rows):
        # "changes": against the next lower version of the same owner, like the change report.
        older = next((r for r in rows[index + 1 :] if r.project_id == row.project_id), None)
        row.compare_with = older.pk if older else None  # type: ignore[attr-defined]
    page.object_list = rows
    template = "dashboard/connectors/detail.html"
    partial = bool(request.htmx and not request.htmx.boosted)
    if partial:
        template += "#versions"
    panels = connector_page_panels(request, access, connector, partial=partial)
    return render(
        request,
        template,
        project_context(
            request,
            access,
            nav="connectors",
            connector=connector,
            page=page,
            compare_form=CompareForm(),
            **panels,
        ),
    )


def _auth_summary(version: ConnectorVersion) -> dict[str, Any]:
    auth = version.authentication
    return {
        "type": auth.get("type", ""),
        "setup_fields": auth.get("setupFields") or [],
        "config_fields": auth.get("configFields") or [],
        "scopes": auth.get("scopes") or [],
        "authorization_url": auth.get("authorizationUrl", ""),
        "token_url": auth.get("tokenUrl", ""),
        "header_name": auth.get("headerName", ""),
    }


@require_GET
@login_required
def version_detail(
    request: HtmxHttpRequest, project_slug: str, key: str, version_id: int
) -> HttpResponse:
    access, version = get_connector_version_for_user(request.user, project_slug, key, version_id)
    report = ChangeReport.from_json(version.change_report) if version.change_report else None
    return render(
        request,
        "dashboard/connectors/version.html",
        project_context(
            request,
            access,
            nav="connectors",
            connector=version.connector,
            version=version,
            report=report,
            auth=_auth_summary(version),
            can_edit=access.can_manage and version.project_id == access.project.pk,
            **version_page_panels(request, access, version),
        ),
    )


@require_GET
@login_required
def version_compare(request: HtmxHttpRequest, project_slug: str, key: str) -> HttpResponse:
    access, connector = get_connector_for_user(request.user, project_slug, key)
    form = CompareForm(request.GET)
    if not form.is_valid():
        messages.error(request, "Choose two versions to compare.")
        return redirect("connector_detail", project_slug, key)
    a, b = form.cleaned_data["a"], form.cleaned_data["b"]
    pair = selectors.versions_by_pk(access.project, connector, [a, b])
    try:
        old, new = pair[a], pair[b]
    except KeyError as exc:
        raise Http404("No such version.") from exc
    return render(
        request,
        "dashboard/connectors/compare.html",
        project_context(
            request,
            access,
            nav="connectors",
            connector=connector,
            old=old,
            new=new,
            diff=structured_diff(old.definition, new.definition),
            sections=sectioned_diff(old.definition, new.definition),
            all_versions=selectors.version_choices(access.project, connector, limit=500),
        ),
    )


def _uploaded(form_files: list[UploadedFile]) -> list[tuple[str, bytes]]:
    total = 0
    files = []
    for upload in form_files:
        size = upload.size or 0
        total += size
        if size > MAX_FILE_BYTES or total > MAX_PUSH_BYTES:
            raise DefinitionError(
                f"{upload.name} is too large: at most {MAX_FILE_BYTES:,} bytes per file and "
                f"{MAX_PUSH_BYTES:,} bytes in all.",
                status=413,
            )
        files.append((upload.name or "connector.yaml", upload.read()))
    return _main_first(files)


MAIN_FILE_MARK = re.compile(rb"^info\s*:", re.MULTILINE)


def _main_first(files: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Browsers send files in any order: put the one with a top-level ``info:`` first."""
    if files and not MAIN_FILE_MARK.search(files[0][1]):
        for index, (_name, body) in enumerate(files):
            if MAIN_FILE_MARK.search(body):
                return [files[index], *files[:index], *files[index + 1 :]]
    return files


@require_POST
@login_required
def upload_preview(request: HtmxHttpRequest, project_slug: str) -> HttpResponse:
    """Parse and validate the chosen files and show what publishing would do; stores nothing."""
    access = get_project_for_user(request.user, project_slug, need=Need.MANAGE)
    form = PublishForm(request.POST, request.FILES)
    context = project_context(request, access, nav="connectors", preview=None, error=None)
    status = 200
    if not form.is_valid():
        context["error"] = ServiceError(first_error(form)[1])
        status = 400
    elif not form.cleaned_data["files"]:
        context["error"] = DefinitionError("Choose the definition file (and any partials).")
        status = 400
    else:
        try:
            preview = services.connector_version_preview(
                project=access.project,
                files=_uploaded(form.cleaned_data["files"]),
                force=form.cleaned_data["force"],
            )
            context["preview"] = preview
            context.update(upload_preview_panels(access.project, preview))
        except DefinitionError as exc:
            context["error"] = exc
            status = exc.status
    template = "dashboard/connectors/upload.html"
    if request.htmx:
        template += "#preview"
    return render(request, template, context, status=status)


def _posted_files(form: PublishForm) -> list[tuple[str, bytes]]:
    """The chosen files, or the ones kept in the form after a refused publish."""
    uploads = form.cleaned_data["files"]
    if uploads:
        return _uploaded(uploads)
    kept = [(name, body.encode()) for name, body in form.kept()]
    if sum(len(body) for _name, body in kept) > MAX_PUSH_BYTES:
        raise DefinitionError(f"At most {MAX_PUSH_BYTES:,} bytes in all.", status=413)
    return kept


def _refused(
    request: HtmxHttpRequest,
    access: Any,
    form: PublishForm,
    files: list[tuple[str, bytes]],
    error: Exception,
) -> dict[str, Any]:
    """Context for a refused publish: the error, the preview again, and the files kept (so the
    force / acknowledge options can be ticked without choosing the files again)."""
    context = project_context(request, access, nav="connectors", preview=None, error=error)
    try:
        preview = services.connector_version_preview(
            project=access.project, files=files, force=form.cleaned_data["force"]
        )
        context["kept"] = [(name, body.decode()) for name, body in files]
    except (DefinitionError, UnicodeDecodeError):
        return context
    context["preview"] = preview
    context.update(upload_preview_panels(access.project, preview))
    context["description"] = form.cleaned_data["description"]
    return context


def _unconfirmed_moves(
    request: HtmxHttpRequest, access: Any, form: PublishForm, files: list[tuple[str, bytes]]
) -> dict[str, Any] | None:
    """A publish that would move profiles across a major or an authentication change waits
    for ``confirm_moves`` (the API does not: automation knows what it does)."""
    preview = services.connector_version_preview(
        project=access.project, files=files, force=form.cleaned_data["force"]
    )
    panels = upload_preview_panels(access.project, preview)
    if not panels.get("guarded_moves") or preview.conflict:
        return None
    context = project_context(request, access, nav="connectors", preview=preview, error=None)
    context.update(panels)
    context["kept"] = [(name, body.decode()) for name, body in files]
    context["description"] = form.cleaned_data["description"]
    context["confirm_moves_needed"] = True
    if form.cleaned_data["acknowledge_breaking"]:
        context["acknowledged"] = True
    return context


def _publish_choices(
    request: HtmxHttpRequest, project: Project, files: list[tuple[str, bytes]], form: PublishForm
) -> dict[int, str]:
    """Per profile the publish would move, the choice posted as ``choice_<profile id>``:
    move now (the default), stage (a rollout) or hold (pinned where it is)."""
    preview = services.connector_version_preview(
        project=project, files=files, force=form.cleaned_data["force"]
    )
    choices = {}
    for move in upload_preview_panels(project, preview).get("moves", []):
        choice = request.POST.get(f"choice_{move.profile.public_id}", staged.Choice.MOVE)
        if choice in staged.Choice.ALL:
            choices[move.profile.pk] = choice
    return choices


@require_http_methods(["GET", "POST"])
@login_required
def upload(request: HtmxHttpRequest, project_slug: str) -> HttpResponse:
    access = get_project_for_user(request.user, project_slug, need=Need.MANAGE)
    context = project_context(request, access, nav="connectors", preview=None, error=None)
    if request.method == "POST":
        form = PublishForm(request.POST, request.FILES)
        if not form.is_valid():
            context["error"] = ServiceError(first_error(form)[1])
            return render(request, "dashboard/connectors/upload.html", context, status=400)
        draft = form.draft
        files: list[tuple[str, bytes]] = []
        try:
            files = _posted_files(form)
            if not draft and not form.cleaned_data["confirm_moves"]:
                refused = _unconfirmed_moves(request, access, form, files)
                if refused is not None:
                    return render(request, "dashboard/connectors/upload.html", refused, status=409)
            actor = Actor.from_request(request)

            def push() -> Any:
                return profile_services.connector_version_push(
                    actor=actor,
                    project=access.project,
                    files=files,
                    force=form.cleaned_data["force"],
                    draft=draft,
                    acknowledge_breaking=form.cleaned_data["acknowledge_breaking"],
                    description=form.cleaned_data["description"],
                )

            choices = {} if draft else _publish_choices(request, access.project, files, form)
            result = staged.publish_with_choices(
                actor=actor,
                project=access.project,
                push=push,
                version_of=lambda pushed: pushed.version,
                choices=choices,
            )
        except DefinitionError as exc:
            context["error"] = exc
            return render(request, "dashboard/connectors/upload.html", context, status=exc.status)
        except ServiceError as exc:
            context = _refused(request, access, form, files, exc)
            return render(request, "dashboard/connectors/upload.html", context, status=exc.status)
        version = result.version
        verb = (
            "saved as a draft" if draft else ("overwritten" if result.overwritten else "published")
        )
        messages.success(request, f"{version.connector.key} {version.version} {verb}.")
        return redirect("version_detail", access.project.slug, version.connector.key, version.pk)
    return render(request, "dashboard/connectors/upload.html", context)


@require_POST
@login_required
def version_publish(
    request: HtmxHttpRequest, project_slug: str, key: str, version_id: int
) -> HttpResponse:
    _access, version = get_connector_version_for_user(
        request.user, project_slug, key, version_id, need=Need.MANAGE, own=True
    )
    form = VersionPublishForm(request.POST)
    acknowledge_breaking = form.is_valid() and form.cleaned_data["acknowledge_breaking"]
    try:
        profile_services.connector_version_publish(
            actor=Actor.from_request(request),
            version=version,
            acknowledge_breaking=acknowledge_breaking,
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{key} {version.version} published.")
    return redirect("version_detail", project_slug, key, version_id)


@require_POST
@login_required
def version_delete(
    request: HtmxHttpRequest, project_slug: str, key: str, version_id: int
) -> HttpResponse:
    access, version = get_connector_version_for_user(
        request.user, project_slug, key, version_id, need=Need.MANAGE, own=True
    )
    try:
        connector_version_delete(actor=Actor.from_request(request), version=version)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("version_detail", project_slug, key, version_id)
    messages.success(request, f"{key} {version.version} deleted.")
    if selectors.connector_is_visible(access.project, key):
        return redirect("connector_detail", project_slug, key)
    return redirect(reverse("connector_list", args=[project_slug]))
