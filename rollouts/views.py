"""Dashboard pages of profile migrations: the Migrations page (every migration with its
progress, and a form to start one by hand), the start form from a breaking release's change
report (a new ``<major>.x.x`` profile and the migration in one step), and the migration page
(figures, progress chart, pending accounts with reconnect links, migrated accounts, notices,
CSV export, completion).

Migrations are an admin job: every page and action needs ``Need.MANAGE``. Reconnect links
are shown to admins on purpose (they are the product); every page that may show one is
``Cache-Control: no-store``. Reads go through ``migration_selectors`` and
``connections.selectors`` (keyset pages, never offsets); writes through
``migration_services``.

The helpers at the end (``profile_banners``, ``version_offer``, ``connection_migration``)
feed the profile, version and connection pages.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from connections import selectors as connection_selectors
from connections.models import Connection, Status
from connectors.models import ConnectorVersion
from connectors.permissions import get_connector_version_for_user
from core.pager import without_cursors
from profiles import selectors
from profiles.models import ConnectorProfile
from projects.http import HtmxHttpRequest
from projects.permissions import Need, ProjectAccess, get_project_for_user
from projects.services import Actor, ServiceError
from projects.views import project_context

from . import selectors as sel
from . import services as migration_services
from .charts import ProgressBar, progress_bar, progress_chart
from .models import MigrationNotice, ProfileMigration

PER_PAGE_CHOICES = (25, 50, 100)
DEFAULT_PER_PAGE = 25
PENDING_SORTS = [("created_at", "Created"), ("name", "Name")]
NOTICE_FILTERS = [("never", "Never sent"), ("sent", "Sent")]
MIGRATED_SHOWN = 20
MAX_SELECTED = 1000
MAX_ID_DIGITS = 18
EXPORT_BATCH = 500
MAX_SEARCH = 200
# What a pending row shows (and pages by): loading only these keeps a page cheap.
PENDING_COLUMNS = (
    "id",
    "project_id",
    "profile_id",
    "name",
    "origin_owner_id",
    "origin_owner_name",
    "email",
    "status",
    "created_at",
)
CSV_COLUMNS = (
    "origin_owner_id",
    "name",
    "email",
    "status",
    "connection_id",
    "notices_sent",
    "last_sent_at",
    "reconnect_url",
)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _int_id(raw: str | None) -> int | None:
    value = (raw or "").strip()
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > MAX_ID_DIGITS:
        raise ServiceError("Choose a profile from the list.")
    return int(value)


def _get_migration(
    request: HtmxHttpRequest, project_slug: str, migration_id: int
) -> tuple[ProjectAccess, ProfileMigration]:
    access = get_project_for_user(request.user, project_slug, need=Need.MANAGE)
    migration = sel.migrations_of(access.project).filter(pk=migration_id).first()
    if migration is None:
        raise Http404("No such migration.")
    migration.project = access.project
    return access, migration


def countdown(migration: ProfileMigration, now: datetime | None = None) -> tuple[str, bool]:
    """("in 5 days" | "overdue by 2 days" | "", overdue?) for the deadline: whole calendar
    days in the current time zone, hours on the day itself."""
    now = now or timezone.now()
    left = sel.deadline_left(migration, now)
    if left is None or migration.deadline is None:
        return "", False
    overdue = left < timedelta(0)
    days = (timezone.localdate(migration.deadline) - timezone.localdate(now)).days
    if days:
        span = _plural(abs(days), "day")
    else:
        hours = int(abs(left.total_seconds()) // 3600)
        span = _plural(hours, "hour") if hours else "less than an hour"
    return (f"overdue by {span}" if overdue else f"in {span}"), overdue


# --- The Migrations page ---------------------------------------------------------------------


@dataclass(frozen=True)
class MigrationRow:
    migration: ProfileMigration
    progress: sel.Progress
    bar: ProgressBar
    countdown: str
    overdue: bool


def _profile_choices(access: ProjectAccess) -> list[ConnectorProfile]:
    return list(selectors.profiles_of(access.project).order_by("connector__key", "name", "pk"))


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
        "profiles": _profile_choices(access),
    }


@require_GET
@login_required
def migration_list(request: HtmxHttpRequest, project_slug: str) -> HttpResponse:
    access = get_project_for_user(request.user, project_slug, need=Need.MANAGE)
    context = _list_context(access)
    context["form"] = NewForm()
    return render(
        request,
        "rollouts/list.html",
        project_context(request, access, nav="migrations", **context),
    )


# --- Starting by hand ------------------------------------------------------------------------


@dataclass
class NewForm:
    """The hand-made migration form's values and errors (no Django form: the profile ids
    must be looked up in the project, where another project's id is a 404)."""

    from_profile: str = ""
    to_profile: str = ""
    title: str = ""
    message: str = ""
    deadline: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    error: str = ""


def _deadline(raw: str) -> datetime | None:
    """A date input (YYYY-MM-DD) as the end of that day in the current time zone."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError as exc:
        raise ServiceError("Enter the deadline as a date (YYYY-MM-DD).", field="deadline") from exc
    return timezone.make_aware(datetime.combine(day, time(23, 59, 59)))


def _project_profile(access: ProjectAccess, raw: str, field_name: str) -> ConnectorProfile:
    """A profile of this project by id; another project's (or no such) id is a 404."""
    try:
        pk = _int_id(raw)
    except ServiceError as exc:
        raise ServiceError(exc.message, field=field_name) from exc
    if pk is None:
        raise ServiceError("Choose a profile.", field=field_name)
    profile = (
        ConnectorProfile.objects.select_related("connector", "project")
        .filter(project=access.project, pk=pk)
        .first()
    )
    if profile is None:
        raise Http404("No such profile in this project.")
    return profile


@require_http_methods(["GET", "POST"])
@login_required
def migration_new(request: HtmxHttpRequest, project_slug: str) -> HttpResponse:
    access = get_project_for_user(request.user, project_slug, need=Need.MANAGE)
    form = NewForm(from_profile=request.GET.get("from_profile", ""))
    status = 200
    if request.method == "POST":
        post = request.POST
        form = NewForm(
            from_profile=post.get("from_profile", ""),
            to_profile=post.get("to_profile", ""),
            title=post.get("title", ""),
            message=post.get("message", ""),
            deadline=post.get("deadline", ""),
        )
        try:
            from_profile = _project_profile(access, form.from_profile, "from_profile")
            to_profile = _project_profile(access, form.to_profile, "to_profile")
            migration = migration_services.migration_create(
                actor=Actor.from_request(request),
                project=access.project,
                from_profile=from_profile,
                to_profile=to_profile,
                title=form.title,
                message=form.message,
                deadline=_deadline(form.deadline),
            )
        except ServiceError as exc:
            if exc.field:
                form.errors[exc.field] = exc.message
            else:
                form.error = exc.message
            status = exc.status
        else:
            messages.success(
                request,
                f"Migration started: {from_profile.name} → {to_profile.name}. "
                "Send the pending accounts their reconnect links from this page.",
            )
            return redirect("migration_detail", project_slug, migration.pk)
    return render(
        request,
        "rollouts/new.html",
        project_context(
            request, access, nav="migrations", form=form, profiles=_profile_choices(access)
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
class StartForm:
    from_profile: ConnectorProfile | None = None
    profile_name: str = ""
    title: str = ""
    message: str = ""
    deadline: str = ""
    setup: list[SetupRow] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    error: str = ""


def _connector_title(version: ConnectorVersion) -> str:
    info = version.definition.get("info") if isinstance(version.definition, dict) else None
    title = info.get("title") if isinstance(info, dict) else None
    return str(title or getattr(version.connector, "display_title", "") or version.connector.key)


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
    form: StartForm,
    *,
    status: int = 200,
) -> HttpResponse:
    template = "rollouts/start.html"
    if request.htmx and not request.htmx.boosted and request.htmx.target == "start-new-profile":
        template += "#new-profile"
    context = project_context(
        request,
        access,
        nav="migrations",
        version=version,
        connector=version.connector,
        connector_title=_connector_title(version),
        major=version.major,
        candidates=candidates,
        form=form,
        start_url=reverse(
            "migration_start", args=[access.project.slug, version.connector.key, version.pk]
        ),
    )
    return render(request, template, context, status=status)


def _default_from(
    candidates: list[sel.Candidate], version: ConnectorVersion, wanted: int | None
) -> ConnectorProfile | None:
    free = [c for c in candidates if not c.busy]
    for c in free:
        if c.profile.pk == wanted:
            return c.profile
    older = [c for c in free if sel.on_older_major(c, version)]
    chosen = older or free
    return chosen[0].profile if chosen else None


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
    title_default = f"Reconnect to {_connector_title(version)} {major}.x"
    if request.method == "GET":
        try:
            wanted = _int_id(request.GET.get("from_profile"))
        except ServiceError:
            wanted = None
        chosen = _default_from(candidates, version, wanted)
        form = StartForm(
            from_profile=chosen,
            profile_name=f"{chosen.name} {major}.x" if chosen else "",
            title=title_default,
            setup=_setup_rows(chosen, version, None) if chosen else [],
        )
        return _start_render(request, access, version, candidates, form)

    post = request.POST
    form = StartForm(
        profile_name=post.get("profile_name", "").strip(),
        title=post.get("title", ""),
        message=post.get("message", ""),
        deadline=post.get("deadline", ""),
    )
    try:
        from_profile = _project_profile(access, post.get("from_profile", ""), "from_profile")
    except ServiceError as exc:
        form.errors["from_profile"] = exc.message
        return _start_render(request, access, version, candidates, form, status=400)
    form.from_profile = from_profile
    form.setup = _setup_rows(from_profile, version, post)
    if post.get("action") == "refresh":
        form.profile_name = f"{from_profile.name} {major}.x"
        form.setup = _setup_rows(from_profile, version, None)
        return _start_render(request, access, version, candidates, form)
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
        if not form.profile_name:
            raise ServiceError("Give the new profile a name.", field="profile_name")
        migration = migration_services.migration_start_with_new_profile(
            actor=Actor.from_request(request),
            project=access.project,
            version=version,
            from_profile=from_profile,
            profile_name=form.profile_name,
            setup={
                row.key: post.get(f"setup_{row.key}", "")
                for row in form.setup
                if post.get(f"setup_{row.key}", "").strip()
            },
            title=form.title,
            message=form.message,
            deadline=_deadline(form.deadline),
        )
    except ServiceError as exc:
        name = exc.field or ""
        setup_row = next((r for r in form.setup if f"setup_{r.key}" == name), None)
        if setup_row is not None:
            setup_row.error = exc.message
        elif name in ("from_profile", "profile_name", "title", "deadline"):
            form.errors[name] = exc.message
        elif name == "name":
            form.errors["profile_name"] = exc.message
        else:
            form.error = exc.message
        return _start_render(request, access, version, candidates, form, status=exc.status)
    messages.success(
        request,
        f"Created the profile {migration.to_profile.name} pinned to {major}.x.x and started "
        f"moving the accounts of {from_profile.name} to it.",
    )
    return redirect("migration_detail", project_slug, migration.pk)


# --- The migration page ----------------------------------------------------------------------


@dataclass(frozen=True)
class PendingRow:
    connection: Connection
    notice: MigrationNotice | None
    link_url: str  # a valid reconnect link, or ""

    @property
    def notices_sent(self) -> int:
        return self.notice.notices_sent if self.notice else 0


def _pending_params(params: QueryDict) -> tuple[connection_selectors.Filters, str, int]:
    notice = params.get("notice", "").strip()
    if notice and notice not in dict(NOTICE_FILTERS):
        raise ServiceError("Choose a notice state from the list.", field="notice")
    raw_per_page = params.get("per_page", "").strip()
    try:
        per_page = int(raw_per_page) if raw_per_page else DEFAULT_PER_PAGE
    except ValueError:
        per_page = 0
    if per_page not in PER_PAGE_CHOICES:
        allowed = ", ".join(map(str, PER_PAGE_CHOICES))
        raise ServiceError(f"Rows per page must be one of {allowed}.", field="per_page")
    sort = params.get("sort", "").strip() or "created_at"
    if sort not in dict(PENDING_SORTS):
        raise ServiceError("Sort by created or name.", field="sort")
    filters = connection_selectors.Filters(
        search=params.get("q", "").strip()[:MAX_SEARCH],
        status=params.get("status", "").strip(),
        sort_by=sort,
        sort_dir=params.get("dir", "").strip() or "desc",
    )
    return filters, notice, per_page


def _pending_queryset(migration: ProfileMigration, notice: str) -> QuerySet[Connection]:
    if not notice:
        return sel.pending(migration).only(*PENDING_COLUMNS)
    rows = sel.pending_with_notices(migration).only(*PENDING_COLUMNS)
    return rows.filter(**{"notice_sent": notice == "sent"})  # the annotation of the selector


def _pending_context(
    request: HtmxHttpRequest, migration: ProfileMigration, params: QueryDict
) -> tuple[dict[str, Any], int]:
    """The pending table: filters, one keyset page, a capped count, the page's notices (one
    query) — a fixed number of queries at any size."""
    detail_url = reverse("migration_detail", args=[migration.project.slug, migration.pk])
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
    try:
        filters, notice, per_page = _pending_params(params)
        rows = connection_selectors.apply_filters(_pending_queryset(migration, notice), filters)
        page = connection_selectors.page(
            rows,
            filters,
            after=params.get("after", ""),
            before=params.get("before", ""),
            limit=per_page,
        )
    except ServiceError as exc:
        context["table_error"] = exc.message
        return context, exc.status
    count, capped = connection_selectors.count_capped(rows)
    notices = sel.notices_for(migration, [c.pk for c in page.items])
    links = migration_services.ReconnectLinks()
    prev_href, next_href = page.links(params, base=detail_url)
    context.update(
        pending_filtered=bool(filters.active or notice),
        pending_count=count,
        pending_count_label=f"{count:,}+" if capped else f"{count:,}",
        pending_rows=[
            PendingRow(c, notices.get(c.pk), links.url(notices.get(c.pk)) or "") for c in page.items
        ],
        prev_href=prev_href,
        next_href=next_href,
    )
    return context, 200


def _detail_context(
    request: HtmxHttpRequest, access: ProjectAccess, migration: ProfileMigration
) -> tuple[dict[str, Any], int]:
    context, status = _pending_context(request, migration, request.GET)
    progress = sel.progress(migration)
    label, overdue = countdown(migration)
    migrated = list(
        sel.migrated(migration)
        .only("id", "name", "origin_owner_id", "email", "status", "moved_at", "profile_id")
        .order_by("-moved_at", "-id")[:MIGRATED_SHOWN]
    )
    context.update(
        migration=migration,
        progress=progress,
        bar=progress_bar(progress.migrated, progress.total, progress.percent),
        countdown=label,
        overdue=overdue,
        chart=progress_chart(sel.daily_migrated(migration), progress.total),
        migrated_rows=migrated,
    )
    return project_context(request, access, nav="migrations", **context), status


@cache_control(no_store=True)
@require_GET
@login_required
def migration_detail(
    request: HtmxHttpRequest, project_slug: str, migration_id: int
) -> HttpResponse:
    access, migration = _get_migration(request, project_slug, migration_id)
    template = "rollouts/detail.html"
    if request.htmx and not request.htmx.boosted and request.htmx.target == "pending-table":
        table, status = _pending_context(request, migration, request.GET)
        context = project_context(
            request,
            access,
            nav="migrations",
            migration=migration,
            progress=sel.progress(migration),
            **table,
        )
        return render(request, template + "#pending-table", context, status=status)
    context, status = _detail_context(request, access, migration)
    return render(request, template, context, status=status)


def _detail_error(
    request: HtmxHttpRequest, access: ProjectAccess, migration: ProfileMigration, exc: ServiceError
) -> HttpResponse:
    messages.error(request, exc.message)
    context, _status = _detail_context(request, access, migration)
    return render(request, "rollouts/detail.html", context, status=exc.status)


@cache_control(no_store=True)
@require_POST
@login_required
def migration_link_create(
    request: HtmxHttpRequest, project_slug: str, migration_id: int, connection_id: int
) -> HttpResponse:
    """A reconnect link for one pending account (reused while valid). HTMX swaps the row;
    a plain POST returns to the migration page, where the row shows the link."""
    access, migration = _get_migration(request, project_slug, migration_id)
    connection = sel.pending(migration).only(*PENDING_COLUMNS).filter(pk=connection_id).first()
    if connection is None:
        raise Http404("That account is not pending in this migration.")
    if not migration.is_open:
        return _detail_error(
            request,
            access,
            migration,
            ServiceError("This migration is complete; it makes no more links."),
        )
    notice, url = migration_services.migration_link(
        actor=Actor.from_request(request), migration=migration, connection=connection
    )
    if request.htmx:
        context = project_context(
            request,
            access,
            nav="migrations",
            migration=migration,
            row=PendingRow(connection, notice, url),
        )
        return render(request, "rollouts/detail.html#pending-row", context)
    messages.success(request, f"Reconnect link ready for {connection.name}.")
    detail = reverse("migration_detail", args=[project_slug, migration.pk])
    return redirect(f"{detail}#pending")


def _selected_ids(request: HtmxHttpRequest) -> list[int]:
    field_name = "page_ids" if request.POST.get("all_on_page") else "ids"
    ids: list[int] = []
    for raw in request.POST.getlist(field_name):
        value = raw.strip()
        if not value.isascii() or not value.isdigit() or len(value) > MAX_ID_DIGITS:
            raise ServiceError("The selection holds something that is not an account id.")
        ids.append(int(value))
    return list(dict.fromkeys(ids))


@cache_control(no_store=True)
@require_POST
@login_required
def migration_notify(
    request: HtmxHttpRequest, project_slug: str, migration_id: int
) -> HttpResponse:
    """Queue the reconnect email for the selected pending accounts, or for all of them
    (after a confirmation page)."""
    access, migration = _get_migration(request, project_slug, migration_id)
    scope = request.POST.get("scope", "selected")
    ids: list[int] | None
    try:
        if scope == "all":
            if request.POST.get("confirmed") != "yes":
                pending = sel.progress(migration).pending
                return render(
                    request,
                    "rollouts/confirm.html",
                    project_context(
                        request,
                        access,
                        nav="migrations",
                        migration=migration,
                        kind="notify",
                        pending=pending,
                    ),
                )
            ids = None
        elif scope == "selected":
            ids = _selected_ids(request)
            if not ids:
                raise ServiceError("Select at least one pending account.")
            if len(ids) > MAX_SELECTED:
                raise ServiceError(f"Select at most {MAX_SELECTED:,} accounts at a time.")
        else:
            raise ServiceError("Choose whom to send the reconnect email to.")
        queued = migration_services.migration_notify(
            actor=Actor.from_request(request), migration=migration, connection_ids=ids
        )
    except ServiceError as exc:
        return _detail_error(request, access, migration, exc)
    if queued:
        messages.success(
            request,
            f"{_plural(queued, 'email')} queued. Each account gets its own single-use "
            "reconnect link; accounts without an email address are skipped.",
        )
    else:
        messages.warning(request, "No email queued: none of the selected accounts is pending.")
    return redirect("migration_detail", project_slug, migration.pk)


class _Echo:
    """A file-like object whose write returns the line (csv.writer into a stream)."""

    def write(self, value: str) -> str:
        return value


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (end users choose names)."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def _export_rows(actor: Actor, migration: ProfileMigration) -> Iterator[str]:
    """Header, then every pending account in batches (keyset by id): memory stays flat.
    Accounts without a valid link get one now (``migration_link``)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    last = 0
    while True:
        batch = list(
            sel.pending(migration)
            .only(*PENDING_COLUMNS)
            .filter(pk__gt=last)
            .order_by("pk")[:EXPORT_BATCH]
        )
        if not batch:
            return
        notices = sel.notices_for(migration, [c.pk for c in batch])
        links = migration_services.ReconnectLinks()
        lines = []
        for connection in batch:
            notice = notices.get(connection.pk)
            url = links.url(notice) or ""
            if not url and migration.is_open:
                notice, url = migration_services.migration_link(
                    actor=actor, migration=migration, connection=connection
                )
            lines.append(
                writer.writerow(
                    [
                        _cell(connection.origin_owner_id),
                        _cell(connection.name),
                        _cell(connection.email),
                        connection.status,
                        connection.pk,
                        notice.notices_sent if notice else 0,
                        notice.last_sent_at.isoformat() if notice and notice.last_sent_at else "",
                        url,
                    ]
                )
            )
        yield "".join(lines)
        last = batch[-1].pk


@cache_control(no_store=True)
@require_POST
@login_required
def migration_export(
    request: HtmxHttpRequest, project_slug: str, migration_id: int
) -> StreamingHttpResponse:
    """The pending accounts with their reconnect links, as CSV (streamed)."""
    _access, migration = _get_migration(request, project_slug, migration_id)
    response = StreamingHttpResponse(
        _export_rows(Actor.from_request(request), migration), content_type="text/csv"
    )
    response["Content-Disposition"] = f'attachment; filename="migration-{migration.pk}-pending.csv"'
    return response


@cache_control(no_store=True)
@require_POST
@login_required
def migration_complete(
    request: HtmxHttpRequest, project_slug: str, migration_id: int
) -> HttpResponse:
    access, migration = _get_migration(request, project_slug, migration_id)
    if request.POST.get("confirmed") != "yes":
        return render(
            request,
            "rollouts/confirm.html",
            project_context(
                request,
                access,
                nav="migrations",
                migration=migration,
                kind="complete",
                pending=sel.progress(migration).pending,
            ),
        )
    was_open = migration.is_open
    migration = migration_services.migration_complete(
        actor=Actor.from_request(request), migration=migration
    )
    if was_open:
        messages.success(request, f"“{migration.title}” is complete.")
    else:
        messages.info(request, f"“{migration.title}” was complete already.")
    return redirect("migration_detail", project_slug, migration.pk)
