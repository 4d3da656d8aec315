"""The connections list: filters, search, sort, keyset pages, a capped count and bulk actions.

Every read goes through ``selectors.visible`` (the same RBAC scope as the API); every write
through the services.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, tzinfo
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode, urlsplit
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.messages import get_messages
from django.http import Http404, HttpResponse, HttpResponseBase, QueryDict, StreamingHttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from connections import rbac, selectors
from connections.models import Health, Status
from connections.rbac import ConnNeed
from connections.services import bulk_runs, health
from connections.services import connections as services
from core.csvexport import csv_lines
from core.forms import first_error, plural
from core.jinja import csrf_input
from core.pager import without_cursors
from dashboard.context import project_context
from profiles.selectors import ProfileChoice, profile_choices
from projects.http import HtmxHttpRequest
from projects.permissions import ProjectAccess, get_project_for_user
from projects.preferences import columns_of, columns_set
from projects.services import Actor, ServiceError

from .forms import (
    LIST_COLUMN_CHOICES,
    SORT_CHOICES,
    BulkAllMatchingForm,
    ColumnsForm,
    ConnectionBulkForm,
    ConnectionFilterForm,
    default_per_page,
    per_page_choices,
)

VERSION_CHOICES_LIMIT = 300
# What a list row shows (and sorts, pages and checks access by), without joins: a row's
# profile and connector come from the profiles the filter lists anyway, its version's number,
# title and icon from one query for the page. 50 named tuples of these instead of 200 model
# instances with their related objects make a page several milliseconds cheaper.
LIST_COLUMNS = (
    "pk",
    "name",
    "origin_owner_id",
    "email",
    "status",
    "health",
    "health_checked_at",
    "last_used_at",
    "org_role",
    "created_at",
    "updated_at",
    "public_id",
    "profile_id",
    "connector_id",
    "resolved_version_id",
)


def viewer_of(request: HtmxHttpRequest, access: ProjectAccess) -> rbac.Viewer:
    return rbac.Viewer(user=request.user, membership=access.membership)


@dataclass(slots=True)
class Row:
    """One list row as plain values, with its links and labels built in Python: a hundred
    {% url %}, |date and get_FOO_display calls cost more than the page's SQL, and the rows are
    rendered by Jinja2 (templates/jinja2/dashboard/connections/_rows.html), which reads
    attributes."""

    public_id: str
    name: str
    origin_owner_id: str
    email: str
    status: str
    health: str
    profile_name: str
    version_number: str
    role: str
    connector_title: str
    connector_icon: str
    detail_href: str
    profile_href: str
    version_href: str
    created_label: str
    created_iso: str
    status_label: str
    health_label: str
    checked_label: str
    checked_iso: str
    used_label: str
    used_iso: str


def _prefix(name: str, placeholder: int | UUID, *args: Any) -> str:
    """A reversed URL with its trailing id cut off, to append ids to (one reverse per page)."""
    url = reverse(name, args=[*args, placeholder])
    return url[: url.rindex(f"/{placeholder}/") + 1]


@dataclass(frozen=True, slots=True)
class _Related:
    """What rows show of their profiles and versions, looked up once per page."""

    profiles: dict[int, ProfileChoice]
    connector_keys: dict[int, str]
    versions: dict[int, selectors.VersionLabel]


def _when(value: datetime | None, tz: tzinfo) -> tuple[str, str]:
    """A row's date as the list shows it ("2026-12-02 01:55 CET", in the user's time zone)
    and in ISO 8601 (its title): one conversion and one isoformat per date, which cost a
    third of localtime + strftime on 50 rows × 3 dates."""
    if value is None:
        return "", ""
    local = value.astimezone(tz)
    iso = local.isoformat()
    return f"{iso[:10]} {iso[11:16]} {local.tzname()}", iso


def _row(slug: str, c: Any, role: str, related: _Related, tz: tzinfo) -> Row:
    """The Row of ``c``, a named tuple of LIST_COLUMNS (``selectors.page_counted``)."""
    version = related.versions.get(c.resolved_version_id or 0)
    profile = related.profiles[c.profile_id]
    connector_key = related.connector_keys[c.connector_id]
    created_label, created_iso = _when(c.created_at, tz)
    checked_label, checked_iso = _when(c.health_checked_at, tz)
    used_label, used_iso = _when(c.last_used_at, tz)
    public_id = str(c.public_id)
    return Row(
        public_id=public_id,
        name=c.name,
        origin_owner_id=c.origin_owner_id,
        email=c.email,
        status=c.status,
        health=c.health,
        profile_name=profile.name,
        version_number=version.number if version else "",
        role=role,
        connector_title=(version.title if version else "") or connector_key,
        connector_icon=version.icon if version else "",
        detail_href=f"{_DETAIL[slug]}{public_id}/",
        profile_href=f"{_PROFILE[slug]}{profile.public_id}/",
        version_href=f"{_VERSION[slug, connector_key]}{c.resolved_version_id}/" if version else "",
        created_label=created_label,
        created_iso=created_iso,
        status_label=selectors.STATUS_LABELS.get(c.status, c.status),
        health_label=selectors.HEALTH_LABELS.get(c.health, c.health),
        checked_label=checked_label,
        checked_iso=checked_iso,
        used_label=used_label,
        used_iso=used_iso,
    )


class _Prefixes(dict[Any, str]):
    def __init__(self, name: str, placeholder: int | UUID) -> None:
        super().__init__()
        self.name = name
        self.placeholder = placeholder

    def __missing__(self, key: Any) -> str:
        args = key if isinstance(key, tuple) else (key,)
        value = self[key] = _prefix(self.name, self.placeholder, *args)
        return value


_DETAIL = _Prefixes("connection_detail", UUID(int=0))
_PROFILE = _Prefixes("profile_detail", UUID(int=0))
_VERSION = _Prefixes("version_detail", 0)


def _sort_links(
    list_url: str, params: QueryDict, form: ConnectionFilterForm
) -> dict[str, dict[str, str]]:
    """Column headers that sort: the list's URL for each sortable column (the same keyset
    sorts as the sort bar, from the first page), its direction now and the next one. A click
    on the sorted column turns it round; on another, names start A to Z, dates newest first."""
    current = form.cleaned_data.get("sort") or "created_at"
    direction = form.cleaned_data.get("dir") or "desc"
    links = {}
    kept = QueryDict(without_cursors(params)).lists()  # parsed once for every column
    base = [(name, values) for name, values in kept]
    for key, _label in SORT_CHOICES:
        active = key == current
        first = "asc" if key == "name" else "desc"
        upcoming = ("asc" if direction == "desc" else "desc") if active else first
        # QueryDict's setitem: sort and dir keep their place among the filters, or come last.
        chosen = {"sort": [key], "dir": [upcoming]}
        pairs = [(name, chosen.pop(name, values)) for name, values in base]
        query = urlencode([*pairs, *chosen.items()], doseq=True)
        links[key] = {
            "href": f"{list_url}?{query}",
            "aria": ("ascending" if direction == "asc" else "descending") if active else "",
            "arrow": ("▲" if direction == "asc" else "▼") if active else "",
        }
    return links


def _list_context(
    request: HtmxHttpRequest, access: ProjectAccess, params: QueryDict
) -> tuple[dict[str, Any], int]:
    """Everything the list page shows, with a fixed number of queries at any data size:
    the page, a capped count, the roles on the page, and the filter choices."""
    viewer = viewer_of(request, access)
    project = access.project
    # Only what the filter and the rows show of a profile (not its setup values and secrets).
    profiles = profile_choices(project)
    # Only connectors with a profile here can have connections: the filter's choices.
    connectors = list(dict.fromkeys(p.connector_key for p in profiles))
    context: dict[str, Any] = {
        "params": params,
        "query": without_cursors(params),
        "connectors": connectors,
        "profiles": profiles,
        "versions": selectors.version_numbers(project, limit=VERSION_CHOICES_LIMIT),
        "statuses": Status.choices,
        "healths": Health.choices,
        "sorts": SORT_CHOICES,
        "per_page_choices": per_page_choices(),
        "default_per_page": default_per_page(),
        "sees_all": viewer.sees_all,
        "can_write": access.can_write,
        "rows": [],
        "page_ids": [],
        "page": None,
        "error": None,
        "filters": None,
        "empty": False,
        "next_url": request.get_full_path(),
        "columns": columns_of(request, "connections", [key for key, _l in LIST_COLUMN_CHOICES]),
        "column_choices": LIST_COLUMN_CHOICES,
        "list_url": reverse("connection_list", args=[project.slug]),
    }
    shown_columns = set(context["columns"])
    # An object, not a dict: Jinja2 reads ``show.connector`` as an attribute first, and a
    # dict's failed attribute lookup costs an exception per cell (a quarter of the rows' time).
    context["show"] = SimpleNamespace(
        **{key: key in shown_columns for key, _label in LIST_COLUMN_CHOICES}
    )
    form = ConnectionFilterForm(params)
    if not form.is_valid():
        context["error"] = first_error(form)[1]
        return context, 400
    filters, per_page = form.filters, form.cleaned_data["per_page"]
    try:
        page, granted_total = selectors.page_counted(
            viewer,
            project,
            filters,
            after=form.cleaned_data["after"],
            before=form.cleaned_data["before"],
            limit=per_page,
            columns=LIST_COLUMNS,
        )
    except ServiceError as exc:
        context["error"] = exc.message
        return context, exc.status
    paged = bool(form.cleaned_data["after"] or form.cleaned_data["before"])
    if filters.search and not paged:
        # A search's page says enough (a full page: "25+"): no second trigram scan to count.
        count, capped = len(page.items), page.next is not None
    else:
        count, capped = selectors.list_count(viewer, project, filters, granted_total=granted_total)
    related = _Related(
        profiles={p.pk: p for p in profiles},
        connector_keys=selectors.connector_keys(
            {p.connector_id: p.connector_key for p in profiles}, page.items
        ),
        versions=selectors.version_labels({c.resolved_version_id for c in page.items}),
    )
    roles = rbac.roles(viewer, page.items)
    prev_href, next_href = page.links(params)
    tz = timezone.get_current_timezone()
    shown = [_row(project.slug, c, roles[c.pk], related, tz) for c in page.items]
    context.update(
        sort_links=_sort_links(context["list_url"], params, form),
        filters=filters,
        per_page=per_page,
        page=page,
        count=count,
        count_label=f"{count:,}+" if capped else f"{count:,}",
        empty=count == 0 and not filters.active and not paged,
        prev_href=prev_href,
        next_href=next_href,
        rows=shown,
        page_ids=[row.public_id for row in shown],
    )
    return context, 200


@require_GET
@login_required
def connection_list(request: HtmxHttpRequest, project_slug: str) -> HttpResponse:
    access = get_project_for_user(request.user, project_slug)
    context, status = _list_context(request, access, request.GET)
    return _render_list(request, access, context, status)


def _render_list(
    request: HtmxHttpRequest, access: ProjectAccess, context: dict[str, Any], status: int
) -> HttpResponse:
    """The page, or over HTMX only the table. Its content is rendered by Jinja2
    (templates/jinja2/dashboard/connections/: a fifth of the Django engine's time,
    bench/connections.py); the Django page around it (base layout, title) includes it with
    ``{% jinja_include %}`` (dashboard/templatetags/jinja_include.py)."""
    slug = access.project.slug
    context.update(
        htmx=bool(request.htmx),
        messages=get_messages(request) if request.htmx else (),
        export_url=reverse("connection_export", args=[slug]),
        bulk_url=reverse("connection_bulk", args=[slug]),
        columns_url=reverse("connection_columns", args=[slug]),
    )
    if request.htmx and not request.htmx.boosted:
        html = render_to_string(
            "dashboard/connections/_table.html", context, request, using="jinja2"
        )
        return HttpResponse(html, status=status)
    context["csrf_input"] = csrf_input(get_token(request))
    return render(
        request,
        "dashboard/connections/list.html",
        project_context(request, access, nav="connections", content=context),
        status=status,
    )


def _next_url(request: HtmxHttpRequest, access: ProjectAccess, candidate: str) -> str:
    """Where a bulk action returns: the list with the filters it was sent from."""
    default = reverse("connection_list", args=[access.project.slug])
    if (
        candidate
        and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        and urlsplit(candidate).path == default
    ):
        return candidate
    return default


def _bulk_error(
    request: HtmxHttpRequest, access: ProjectAccess, next_url: str, message: str
) -> HttpResponse:
    params = QueryDict(urlsplit(next_url).query)
    context, _status = _list_context(request, access, params)
    context["next_url"] = next_url
    messages.error(request, message)
    return _render_list(request, access, context, 400)


@require_POST
@login_required
def connection_bulk(request: HtmxHttpRequest, project_slug: str) -> HttpResponse:
    """One action on the selected rows. Ids are looked up among the connections the user
    can see (anything else is "not found"); rows the user may not change are skipped."""
    access = get_project_for_user(request.user, project_slug)
    if request.POST.get("all_matching") == "1":
        return _bulk_all_matching(request, access)
    form = ConnectionBulkForm(request.POST)
    form.is_valid()
    next_url = _next_url(request, access, form.cleaned_data.get("next", ""))
    if form.errors:
        return _bulk_error(request, access, next_url, first_error(form)[1])
    action, ids = form.cleaned_data["action"], form.selected
    viewer = viewer_of(request, access)
    rows = selectors.visible_by_ids(viewer, access.project, ids)
    not_found = len(ids) - len(rows)
    actor = Actor.from_request(request)
    roles = rbac.roles(viewer, rows)

    if action == "delete" and form.cleaned_data["confirmed"] != "yes":
        deletable = [c for c in rows if rbac.allows(roles[c.pk], ConnNeed.OWN)]
        return render(
            request,
            "dashboard/connections/bulk_delete.html",
            project_context(
                request,
                access,
                nav="connections",
                deletable=deletable,
                skipped=len(rows) - len(deletable),
                not_found=not_found,
                next_url=next_url,
            ),
        )
    if action == "check_health":
        writable = [c for c in rows if rbac.allows(roles[c.pk], ConnNeed.WRITE)]
        results = health.connections_check_health_bulk(actor=actor, connections=writable)
        checked = [r for r in results.values() if r.detail != health.DISABLED]
        tally = Counter(r.status for r in checked)
        parts = [
            f"{tally[value]} {label.lower()}" for value, label in Health.choices if tally[value]
        ]
        message = f"Checked {plural(len(checked), 'connection')}" + (
            f": {', '.join(parts)}." if parts else "."
        )
        if len(checked) < len(results):
            left = plural(len(results) - len(checked), "disabled connection")
            message += f" Left {left} alone (never checked)."
        skipped = len(rows) - len(writable)
    else:
        done, skipped = services.connections_bulk(
            actor=actor, viewer=viewer, connections=rows, action=action
        )
        verb = {"disable": "Disabled", "enable": "Enabled", "delete": "Deleted"}[action]
        message = f"{verb} {plural(done, 'connection')}."
    if skipped:
        message += f" Skipped {plural(skipped, 'connection')} you may not change."
    if not_found:
        message += f" {plural(not_found, 'connection')} not found."
    (messages.warning if skipped or not_found else messages.success)(request, message)
    return redirect(next_url)


def _bulk_all_matching(request: HtmxHttpRequest, access: ProjectAccess) -> HttpResponse:
    """ "Select all N matching": the action on every connection the filters match, as a
    background task; the run's page shows its progress."""
    form = BulkAllMatchingForm(request.POST)
    next_url = _next_url(request, access, str(request.POST.get("next", "")))
    if not form.is_valid():
        return _bulk_error(request, access, next_url, first_error(form)[1])
    try:
        run = bulk_runs.bulk_run_start(
            actor=Actor.from_request(request),
            viewer=viewer_of(request, access),
            project=access.project,
            action=form.cleaned_data["action"],
            filters=form.cleaned_data["filters"],
            query=form.cleaned_data["matching_query"],
        )
    except ServiceError as exc:
        return _bulk_error(request, access, next_url, exc.message)
    return redirect("connection_bulk_run", access.project.slug, run.public_id)


@require_GET
@login_required
def connection_bulk_run(request: HtmxHttpRequest, project_slug: str, run_id: UUID) -> HttpResponse:
    """A "select all matching" run: progress while it runs (the page polls), then its summary.
    Only the user who started it sees it."""
    access = get_project_for_user(request.user, project_slug)
    run = selectors.bulk_run_of(access.project, request.user, run_id)
    if run is None:
        raise Http404("No such bulk action.")
    template = "dashboard/connections/bulk_run.html"
    if request.htmx and not request.htmx.boosted:
        template += "#run"
    list_url = reverse("connection_list", args=[project_slug])
    return render(
        request,
        template,
        project_context(
            request,
            access,
            nav="connections",
            run=run,
            list_url=f"{list_url}?{run.query}" if run.query else list_url,
        ),
    )


@require_POST
@login_required
def connection_columns(request: HtmxHttpRequest, project_slug: str) -> HttpResponse:
    """Remember which columns this user wants in the list (for every project)."""
    access = get_project_for_user(request.user, project_slug)
    form = ColumnsForm(request.POST)
    next_url = _next_url(request, access, str(request.POST.get("next", "")))
    if not form.is_valid():
        messages.error(request, first_error(form)[1])
    else:
        columns_set(request=request, table="connections", columns=form.cleaned_data["columns"])
        messages.success(request, "Columns saved.")
    return redirect(next_url)


@require_GET
@login_required
def connection_export(request: HtmxHttpRequest, project_slug: str) -> HttpResponseBase:
    """The filtered list (what the reader may see, the list's filters) as CSV, streamed in
    batches; every cell formula-safe."""
    access = get_project_for_user(request.user, project_slug)
    form = ConnectionFilterForm(request.GET)
    if not form.is_valid():
        return HttpResponse(first_error(form)[1], status=400, content_type="text/plain")
    rows = selectors.apply_filters(
        selectors.visible(viewer_of(request, access), access.project), form.filters
    )
    response = StreamingHttpResponse(
        csv_lines(
            selectors.EXPORT_COLUMNS,
            selectors.export_batches(rows, selectors.order_of(form.filters)),
        ),
        content_type="text/csv; charset=utf-8",
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = (
        f'attachment; filename="connections-{access.project.slug}-{stamp}.csv"'
    )
    return response
