"""The migration pages: the Migrations page (every migration with its progress, and a form
to start one by hand), the start form from a breaking release's change report (a new
``<major>.x.x`` profile and the migration in one step), and the migration page (figures,
progress chart, pending accounts with reconnect links, migrated accounts).

Reads go through ``rollouts.selectors`` and ``connections.selectors`` (keyset pages, never
offsets); writes through ``rollouts.services``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_http_methods

from connections import selectors as connection_selectors
from connections.models import Status
from connectors.models import ConnectorVersion
from connectors.permissions import get_connector_version_for_user
from core.forms import first_error
from core.pager import without_cursors
from dashboard.context import project_context
from dashboard.rollouts.charts import ProgressBar, progress_bar, progress_chart
from dashboard.rollouts.forms import (
    DEFAULT_PER_PAGE,
    NOTICE_FILTERS,
    PENDING_SORTS,
    PER_PAGE_CHOICES,
    MigrationNewForm,
    MigrationStartForm,
    PendingFilterForm,
    wanted_profile,
)
from profiles import selectors as profile_selectors
from profiles.models import ConnectorProfile
from projects.http import HtmxHttpRequest
from projects.permissions import Need, ProjectAccess, get_project_for_user
from projects.services import Actor, ServiceError
from rollouts import selectors as sel
from rollouts import services as migration_services
from rollouts.models import ProfileMigration

from .common import countdown, get_migration_for_user

MIGRATED_SHOWN = 20


# --- The Migrations page ---------------------------------------------------------------------


@dataclass(frozen=True)
class MigrationRow:
    migration: ProfileMigration
    progress: sel.Progress
    bar: ProgressBar
    countdown: str
    overdue: bool


def _list_context(access: ProjectAccess) -> dict[str, Any]:
    migrations = list(sel.migrations_of(access.project))
    migrations.sort(key=lambda m: (not m.is_open, -m.started_at.timestamp(), -m.pk))
    progress = sel.progress_many(migrations)
    now = timezone.now()
    rows = []
    for m in migrations:
        p = progress[m.pk]
        label, overdue = countdown(m, now)
        rows.append(
            MigrationRow(m, p, progress_bar(p.migrated, p.total, p.percent), label, overdue)
        )
    return {
        "rows": rows,
        "open_rows": [r for r in rows if r.migration.is_open],
        "done_rows": [r for r in rows if not r.migration.is_open],
        "profiles": sel.migratable_profiles(access.project),
    }


@require_GET
@login_required
def migration_list(request: HtmxHttpRequest, project_slug: str) -> HttpResponse:
    access = get_project_for_user(request.user, project_slug, need=Need.MANAGE)
    context = _list_context(access)
    context["form"] = MigrationNewForm(initial={"make_default": True})
    return render(
        request,
        "dashboard/rollouts/list.html",
        project_context(request, access, nav="migrations", **context),
    )


# --- Starting by hand ------------------------------------------------------------------------


def _project_profile(access: ProjectAccess, profile_id: UUID) -> ConnectorProfile:
    """A profile of this project by id; another project's (or no such) id is a 404."""
    profile = profile_selectors.profile_of(access.project, profile_id)
    if profile is None:
        raise Http404("No such profile in this project.")
    return profile


@require_http_methods(["GET", "POST"])
@login_required
def migration_new(request: HtmxHttpRequest, project_slug: str) -> HttpResponse:
    access = get_project_for_user(request.user, project_slug, need=Need.MANAGE)
    status = 200
    if request.method == "GET":
        form = MigrationNewForm(
            initial={"from_profile": request.GET.get("from_profile", ""), "make_default": True}
        )
    else:
        form = MigrationNewForm(request.POST)
        if not form.is_valid():
            status = 400
        else:
            data = form.cleaned_data
            from_profile = _project_profile(access, data["from_profile"])
            to_profile = _project_profile(access, data["to_profile"])
            try:
                migration = migration_services.migration_create(
                    actor=Actor.from_request(request),
                    project=access.project,
                    from_profile=from_profile,
                    to_profile=to_profile,
                    title=data["title"],
                    message=data["message"],
                    deadline=data["deadline"],
                    make_default=data["make_default"],
                )
            except ServiceError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                status = exc.status
            else:
                messages.success(
                    request,
                    f"Migration started: {from_profile.name} → {to_profile.name}. "
                    "Send the pending accounts their reconnect links from this page.",
                )
                return redirect("migration_detail", project_slug, migration.public_id)
    return render(
        request,
        "dashboard/rollouts/new.html",
        project_context(
            request,
            access,
            nav="migrations",
            form=form,
            profiles=sel.migratable_profiles(access.project),
        ),
        status=status,
    )


# --- Starting from a breaking release --------------------------------------------------------


@dataclass
class SetupRow:
    key: str
    label: str
    required: bool
    secret: bool
    placeholder: str
    tooltip: str
    copied: bool  # a value comes from the old profile
    shown: str  # the copied value as shown: the plain value, or "••••" for a secret
    value: str = ""  # what the admin typed (never echoed back for secrets)
    error: str = ""


@dataclass
class StartPage:
    """What the start form shows: its values, the setup rows and the errors (the input itself
    is parsed by ``MigrationStartForm``)."""

    from_profile: ConnectorProfile | None = None
    profile_name: str = ""
    title: str = ""
    message: str = ""
    deadline: str = ""
    make_default: bool = True
    setup: list[SetupRow] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    error: str = ""


def _setup_rows(
    from_profile: ConnectorProfile, version: ConnectorVersion, typed: QueryDict | None
) -> list[SetupRow]:
    plan = migration_services.setup_plan(from_profile, version)
    rows = []
    for f in plan.fields:
        key = f["key"]
        secret = bool(f.get("secret"))
        copied = key in plan.copied
        raw = (typed.get(f"setup_{key}", "") if typed is not None else "").strip()
        rows.append(
            SetupRow(
                key=key,
                label=str(f.get("label") or key),
                required=bool(f.get("required")),
                secret=secret,
                placeholder=str(f.get("placeholder") or ""),
                tooltip=str(f.get("tooltip") or ""),
                copied=copied,
                shown=("••••" if secret else plan.copied[key]) if copied else "",
                value="" if secret else raw,
            )
        )
    return rows


def _start_render(
    request: HtmxHttpRequest,
    access: ProjectAccess,
    version: ConnectorVersion,
    candidates: list[sel.Candidate],
    page: StartPage,
    *,
    status: int = 200,
) -> HttpResponse:
    template = "dashboard/rollouts/start.html"
    if request.htmx and not request.htmx.boosted and request.htmx.target == "start-new-profile":
        template += "#new-profile"
    context = project_context(
        request,
        access,
        nav="migrations",
        version=version,
        connector=version.connector,
        connector_title=version.title,
        major=version.major,
        candidates=candidates,
        form=page,
        start_url=reverse(
            "migration_start", args=[access.project.slug, version.connector.key, version.pk]
        ),
    )
    return render(request, template, context, status=status)


def _default_from(
    candidates: list[sel.Candidate], version: ConnectorVersion, wanted: UUID | None
) -> ConnectorProfile | None:
    free = [c for c in candidates if not c.busy]
    for c in free:
        if c.profile.public_id == wanted:
            return c.profile
    older = [c for c in free if sel.on_older_major(c, version)]
    chosen = older or free
    return chosen[0].profile if chosen else None


def _start_error(page: StartPage, exc: ServiceError) -> None:
    name = exc.field or ""
    setup_row = next((r for r in page.setup if f"setup_{r.key}" == name), None)
    if setup_row is not None:
        setup_row.error = exc.message
    elif name in ("from_profile", "profile_name", "title", "deadline"):
        page.errors[name] = exc.message
    elif name == "name":
        page.errors["profile_name"] = exc.message
    else:
        page.error = exc.message


@cache_control(no_store=True)
@require_http_methods(["GET", "POST"])
@login_required
def migration_start(
    request: HtmxHttpRequest, project_slug: str, key: str, version_id: int
) -> HttpResponse:
    """GET: the prefilled form; POST: ``migration_start_with_new_profile`` (a new profile
    pinned to ``<major>.x.x`` plus the migration). Errors re-render the form and change
    nothing; ``action=refresh`` re-renders it for another from-profile (without script)."""
    access, version = get_connector_version_for_user(
        request.user, project_slug, key, version_id, need=Need.MANAGE
    )
    if version.is_draft:
        raise Http404("This version is not published.")
    candidates = sel.candidates_for(access.project, version)
    major = version.major
    if request.method == "GET":
        chosen = _default_from(candidates, version, wanted_profile(request.GET.get("from_profile")))
        page = StartPage(
            from_profile=chosen,
            profile_name=f"{chosen.name} {major}.x" if chosen else "",
            title=f"Reconnect to {version.title} {major}.x",
            setup=_setup_rows(chosen, version, None) if chosen else [],
        )
        return _start_render(request, access, version, candidates, page)

    form = MigrationStartForm(request.POST)
    form.is_valid()
    data = form.cleaned_data
    page = StartPage(
        profile_name=data.get("profile_name", ""),
        title=form["title"].value() or "",
        message=form["message"].value() or "",
        deadline=form["deadline"].value() or "",
        make_default=bool(data.get("make_default")),
    )
    if "from_profile" in form.errors:
        page.errors["from_profile"] = str(form.errors["from_profile"][0])
        return _start_render(request, access, version, candidates, page, status=400)
    from_profile = _project_profile(access, data["from_profile"])
    page.from_profile = from_profile
    page.setup = _setup_rows(from_profile, version, request.POST)
    if data.get("action") == "refresh":
        page.profile_name = f"{from_profile.name} {major}.x"
        page.setup = _setup_rows(from_profile, version, None)
        return _start_render(request, access, version, candidates, page)
    try:
        if from_profile.connector_id != version.connector_id:
            raise ServiceError(
                f"{from_profile.name} is a profile of {from_profile.connector.key}; "
                f"choose a profile of {version.connector.key}.",
                field="from_profile",
            )
        if from_profile.pk not in {c.profile.pk for c in candidates}:
            raise ServiceError(
                f"{from_profile.name} is pinned to {major}.x.x already.", field="from_profile"
            )
        for name in ("profile_name", "title", "message", "deadline"):  # a NUL, 10,000 chars ...
            if name in form.errors:
                raise ServiceError(str(form.errors[name][0]), field=name)
        if not page.profile_name:
            raise ServiceError("Give the new profile a name.", field="profile_name")
        migration = migration_services.migration_start_with_new_profile(
            actor=Actor.from_request(request),
            project=access.project,
            version=version,
            from_profile=from_profile,
            profile_name=page.profile_name,
            setup=form.setup_values([row.key for row in page.setup]),
            title=data["title"],
            message=data["message"],
            deadline=data["deadline"],
            make_default=page.make_default,
        )
    except ServiceError as exc:
        _start_error(page, exc)
        return _start_render(request, access, version, candidates, page, status=exc.status)
    messages.success(
        request,
        f"Created the profile {migration.to_profile.name} pinned to {major}.x.x and started "
        f"moving the accounts of {from_profile.name} to it.",
    )
    return redirect("migration_detail", project_slug, migration.public_id)


# --- The migration page ----------------------------------------------------------------------


def pending_context(
    request: HtmxHttpRequest, migration: ProfileMigration, params: QueryDict
) -> tuple[dict[str, Any], int]:
    """The pending table: filters, one keyset page, a capped count, the page's notices (one
    query) — a fixed number of queries at any size."""
    detail_url = reverse("migration_detail", args=[migration.project.slug, migration.public_id])
    context: dict[str, Any] = {
        "params": params,
        "query": without_cursors(params),
        "statuses": Status.choices,
        "notice_filters": NOTICE_FILTERS,
        "sorts": PENDING_SORTS,
        "per_page_choices": PER_PAGE_CHOICES,
        "default_per_page": DEFAULT_PER_PAGE,
        "detail_url": detail_url,
        "pending_rows": [],
        "table_error": None,
        "pending_filtered": False,
    }
    form = PendingFilterForm(params)
    if not form.is_valid():
        context["table_error"] = first_error(form)[1]
        return context, 400
    filters, notice = form.filters(), form.cleaned_data["notice"]
    rows = connection_selectors.apply_filters(sel.pending_columns(migration, notice), filters)
    try:
        page = connection_selectors.page(
            rows,
            filters,
            after=form.cleaned_data["after"],
            before=form.cleaned_data["before"],
            limit=form.cleaned_data["per_page"],
        )
    except ServiceError as exc:
        context["table_error"] = exc.message
        return context, exc.status
    count, capped = connection_selectors.count_capped(rows)
    prev_href, next_href = page.links(params, base=detail_url)
    context.update(
        pending_filtered=bool(filters.active or notice),
        pending_count=count,
        pending_count_label=f"{count:,}+" if capped else f"{count:,}",
        pending_rows=sel.pending_rows(migration, page.items),
        prev_href=prev_href,
        next_href=next_href,
    )
    return context, 200


def detail_context(
    request: HtmxHttpRequest, access: ProjectAccess, migration: ProfileMigration
) -> tuple[dict[str, Any], int]:
    context, status = pending_context(request, migration, request.GET)
    progress = sel.progress(migration)
    run = sel.latest_notice_run(migration)
    label, overdue = countdown(migration)
    context.update(
        migration=migration,
        progress=progress,
        bar=progress_bar(progress.migrated, progress.total, progress.percent),
        countdown=label,
        overdue=overdue,
        chart=progress_chart(sel.daily_migrated(migration), progress.total),
        migrated_rows=sel.migrated_recent(migration, limit=MIGRATED_SHOWN),
        notice_run=run,
        notice_bar=progress_bar(run.processed, run.queued, run.percent) if run else None,
        poll_url=request.get_full_path(),
        reminders=sel.reminder_schedule(migration),
    )
    return project_context(request, access, nav="migrations", **context), status


@cache_control(no_store=True)
@require_GET
@login_required
def migration_detail(
    request: HtmxHttpRequest, project_slug: str, migration_id: UUID
) -> HttpResponse:
    access, migration = get_migration_for_user(request, project_slug, migration_id)
    template = "dashboard/rollouts/detail.html"
    if request.htmx and not request.htmx.boosted and request.htmx.target == "pending-table":
        table, status = pending_context(request, migration, request.GET)
        context = project_context(
            request,
            access,
            nav="migrations",
            migration=migration,
            progress=sel.progress(migration),
            **table,
        )
        return render(request, template + "#pending-table", context, status=status)
    context, status = detail_context(request, access, migration)
    return render(request, template, context, status=status)
