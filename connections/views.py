"""Dashboard pages for connections: the list (filters, search, sort, keyset pages, bulk
actions), the connection page (overview, health, masked credentials, activity) and its
Access tab (grants and the organization-level role, over HTMX).

Every read goes through ``selectors.visible`` or ``get_connection_for_user`` (the same RBAC
scope as the API); every write through ``services`` / ``health`` / ``tokens``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from connections.permissions import get_connection_for_user
from connectors.models import ConnectorVersion
from connectors.selectors import connectors_for_project
from core.pager import without_cursors
from profiles.selectors import profiles_of
from projects.http import HtmxHttpRequest
from projects.models import AuditEntry, Team
from projects.permissions import ProjectAccess, get_project_for_user
from projects.selectors import members_of
from projects.services import Actor, ServiceError
from projects.views import project_context

from . import extensions, health, rbac, selectors, services, tokens
from .models import Connection, GrantRole, Health, OrgRole, Status, SubjectType
from .rbac import ConnNeed

PER_PAGE_CHOICES = (10, 25, 50, 100)
DEFAULT_PER_PAGE = 25  # the first of the choices that is at least this
MAX_BULK = 200
MAX_SEARCH = 200
ACTIVITY_LIMIT = 20
VERSION_CHOICES_LIMIT = 300
# What a list row shows (and sorts, pages and checks access by): loading only these makes a
# 50-row page several milliseconds cheaper than whole rows with their related objects.
LIST_COLUMNS = (
    "id",
    "name",
    "origin_owner_id",
    "email",
    "status",
    "health",
    "org_role",
    "created_at",
    "updated_at",
    "profile_id",
    "profile__name",
    "connector_id",
    "connector__key",
    "resolved_version_id",
    "resolved_version__version",
)
BULK_ACTIONS = {
    "check_health": "Check health",
    "disable": "Disable",
    "enable": "Enable",
    "delete": "Delete",
}
SORT_CHOICES = [("created_at", "Created"), ("updated_at", "Updated"), ("name", "Name")]


def _viewer(request: HtmxHttpRequest, access: ProjectAccess) -> rbac.Viewer:
    return rbac.Viewer(user=request.user, membership=access.membership)


# --- The list ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One list row, with its links and labels built in Python: a hundred {% url %} and
    |date calls cost more than the page's SQL (bench/connections.py)."""

    connection: Connection
    role: str
    connector_title: str
    connector_icon: str
    detail_href: str
    profile_href: str
    version_href: str
    created_label: str
    created_iso: str


def per_page_choices() -> tuple[int, ...]:
    """Page sizes offered (``CONNECTIONS_PER_PAGE_CHOICES`` overrides, e.g. in tests)."""
    return tuple(getattr(settings, "CONNECTIONS_PER_PAGE_CHOICES", PER_PAGE_CHOICES))


def default_per_page() -> int:
    choices = per_page_choices()
    return next((n for n in choices if n >= DEFAULT_PER_PAGE), choices[-1])


def _filters(params: QueryDict) -> tuple[selectors.Filters, int]:
    """The list's query string as selector Filters and a page size; ServiceError when bad."""
    raw_profile = params.get("profile", "").strip()
    try:
        profile_id = int(raw_profile) if raw_profile else None
    except ValueError as exc:
        raise ServiceError("Choose a profile from the list.", field="profile") from exc
    raw_per_page = params.get("per_page", "").strip()
    try:
        per_page = int(raw_per_page) if raw_per_page else default_per_page()
    except ValueError:
        per_page = 0
    if per_page not in per_page_choices():
        allowed = ", ".join(map(str, per_page_choices()))
        raise ServiceError(f"Rows per page must be one of {allowed}.", field="per_page")
    filters = selectors.Filters(
        search=params.get("q", "").strip()[:MAX_SEARCH],
        connector_key=params.get("connector", "").strip(),
        profile_id=profile_id,
        status=params.get("status", "").strip(),
        health=params.get("health", "").strip(),
        version=params.get("version", "").strip(),
        sort_by=params.get("sort", "").strip() or "created_at",
        sort_dir=params.get("dir", "").strip() or "desc",
    )
    return filters, per_page


def _version_choices(access: ProjectAccess) -> list[str]:
    """Published version numbers this project can resolve to, highest first (bounded)."""
    seen: dict[str, None] = {}
    rows = (
        ConnectorVersion.objects.visible_to(access.project)
        .published()
        .order_by("-version_key")
        .values_list("version", flat=True)[:VERSION_CHOICES_LIMIT]
    )
    for number in rows:
        seen.setdefault(number, None)
    return list(seen)


def _prefix(name: str, *args: Any) -> str:
    """A reversed URL with its trailing id cut off, to append ids to (one reverse per page)."""
    url = reverse(name, args=[*args, 0])
    return url[: url.rindex("/0/") + 1]


def _row(slug: str, c: Connection, role: str, info: dict[int, tuple[str, str]]) -> Row:
    title, icon = info.get(c.resolved_version_id or 0, ("", ""))
    created = timezone.localtime(c.created_at)
    return Row(
        c,
        role,
        title or c.connector.key,
        icon,
        f"{_DETAIL[slug]}{c.pk}/",
        f"{_PROFILE[slug]}{c.profile_id}/",
        f"{_VERSION[slug, c.connector.key]}{c.resolved_version_id}/"
        if c.resolved_version_id
        else "",
        created.strftime("%Y-%m-%d %H:%M"),
        created.isoformat(),
    )


class _Prefixes(dict[Any, str]):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def __missing__(self, key: Any) -> str:
        args = key if isinstance(key, tuple) else (key,)
        value = self[key] = _prefix(self.name, *args)
        return value


_DETAIL = _Prefixes("connection_detail")
_PROFILE = _Prefixes("profile_detail")
_VERSION = _Prefixes("version_detail")


def _list_context(
    request: HtmxHttpRequest, access: ProjectAccess, params: QueryDict
) -> tuple[dict[str, Any], int]:
    """Everything the list page shows, with a fixed number of queries at any data size:
    the page, a capped count, the roles on the page, and the filter choices."""
    viewer = _viewer(request, access)
    project = access.project
    profiles = list(profiles_of(project).order_by("connector__key", "name"))
    # Only connectors with a profile here can have connections: the filter's choices.
    connectors = list({p.connector.key: p.connector for p in profiles}.values())
    context: dict[str, Any] = {
        "params": params,
        "query": without_cursors(params),
        "connectors": connectors,
        "profiles": profiles,
        "versions": _version_choices(access),
        "statuses": Status.choices,
        "healths": Health.choices,
        "sorts": SORT_CHOICES,
        "per_page_choices": per_page_choices(),
        "default_per_page": default_per_page(),
        "sees_all": viewer.sees_all,
        "rows": [],
        "page": None,
        "error": None,
        "next_url": request.get_full_path(),
        "list_url": reverse("connection_list", args=[project.slug]),
    }
    try:
        filters, per_page = _filters(params)
        visible = selectors.apply_filters(
            selectors.visible(viewer, project).only(*LIST_COLUMNS), filters
        )
        page = selectors.page(
            visible,
            filters,
            after=params.get("after", ""),
            before=params.get("before", ""),
            limit=per_page,
        )
    except ServiceError as exc:
        context["error"] = exc.message
        return context, exc.status
    paged = bool(params.get("after") or params.get("before"))
    if filters.search and not paged:
        # A search's page says enough (a full page: "25+"): no second trigram scan to count.
        count, capped = len(page.items), page.next is not None
    else:
        count, capped = selectors.count_capped(visible)
    info = selectors.version_labels({c.resolved_version_id for c in page.items})
    roles = rbac.roles(viewer, page.items)
    prev_href, next_href = page.links(params)
    context.update(
        filters=filters,
        per_page=per_page,
        page=page,
        count=count,
        count_label=f"{count:,}+" if capped else f"{count:,}",
        empty=count == 0 and not filters.active and not paged,
        prev_href=prev_href,
        next_href=next_href,
        rows=[_row(project.slug, c, roles[c.pk], info) for c in page.items],
    )
    return context, 200


@require_GET
@login_required
def connection_list(request: HtmxHttpRequest, project_slug: str) -> HttpResponse:
    access = get_project_for_user(request.user, project_slug)
    context, status = _list_context(request, access, request.GET)
    template = "connections/list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#table"
    return render(
        request,
        template,
        project_context(request, access, nav="connections", **context),
        status=status,
    )


def _next_url(request: HtmxHttpRequest, access: ProjectAccess) -> str:
    """Where a bulk action returns: the list with the filters it was sent from."""
    default = reverse("connection_list", args=[access.project.slug])
    candidate = request.POST.get("next", "")
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
    return render(
        request,
        "connections/list.html",
        project_context(request, access, nav="connections", **context),
        status=400,
    )


def _selected_ids(request: HtmxHttpRequest) -> list[int]:
    """The ticked rows, or every row of the page when "select all on this page" is ticked
    (that works without JavaScript: the page's ids travel as hidden fields)."""
    field = "page_ids" if request.POST.get("all_on_page") else "ids"
    ids: list[int] = []
    for raw in request.POST.getlist(field):
        try:
            ids.append(int(raw))
        except ValueError as exc:
            raise ServiceError(
                "The selection holds something that is not a connection id."
            ) from exc
    return list(dict.fromkeys(ids))


def _plural(n: int, word: str = "connection") -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


@require_POST
@login_required
def connection_bulk(request: HtmxHttpRequest, project_slug: str) -> HttpResponse:
    """One action on the selected rows. Ids are looked up among the connections the user
    can see (anything else is "not found"); rows the user may not change are skipped."""
    access = get_project_for_user(request.user, project_slug)
    next_url = _next_url(request, access)
    action = request.POST.get("action", "")
    if action not in BULK_ACTIONS:
        return _bulk_error(request, access, next_url, "Choose an action for the selection.")
    try:
        ids = _selected_ids(request)
    except ServiceError as exc:
        return _bulk_error(request, access, next_url, exc.message)
    if not ids:
        return _bulk_error(request, access, next_url, "Select at least one connection.")
    if len(ids) > MAX_BULK:
        return _bulk_error(
            request, access, next_url, f"Select at most {MAX_BULK} connections at a time."
        )
    viewer = _viewer(request, access)
    rows = list(selectors.visible(viewer, access.project).filter(pk__in=ids))
    not_found = len(ids) - len(rows)
    actor = Actor.from_request(request)
    roles = rbac.roles(viewer, rows)

    if action == "delete" and request.POST.get("confirmed") != "yes":
        deletable = [c for c in rows if rbac.allows(roles[c.pk], ConnNeed.OWN)]
        return render(
            request,
            "connections/bulk_delete.html",
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
        tally = Counter(r.status for r in results.values())
        parts = [
            f"{tally[value]} {label.lower()}" for value, label in Health.choices if tally[value]
        ]
        message = f"Checked {_plural(len(results))}" + (f": {', '.join(parts)}." if parts else ".")
        skipped = len(rows) - len(writable)
    else:
        done, skipped = services.connections_bulk(
            actor=actor, viewer=viewer, connections=rows, action=action
        )
        verb = {"disable": "Disabled", "enable": "Enabled", "delete": "Deleted"}[action]
        message = f"{verb} {_plural(done)}."
    if skipped:
        message += f" Skipped {_plural(skipped)} you may not change."
    if not_found:
        message += f" {_plural(not_found)} not found."
    (messages.warning if skipped or not_found else messages.success)(request, message)
    return redirect(next_url)


# --- One connection --------------------------------------------------------------------------


def _connector_info(access: ProjectAccess, connection: Connection) -> tuple[str, str]:
    connector = connectors_for_project(access.project).filter(pk=connection.connector_id).first()
    if connector is None:
        return connection.connector.key, ""
    return connector.display_title, connector.display_icon  # type: ignore[attr-defined]


def _can(role: str) -> dict[str, bool]:
    return {
        "can_write": rbac.allows(role, ConnNeed.WRITE),
        "can_own": rbac.allows(role, ConnNeed.OWN),
    }


def _access_context(access: ProjectAccess, connection: Connection) -> dict[str, Any]:
    """The Access tab: grants, and who could be granted (members and teams of the org)."""
    organization_id = access.project.organization_id
    grants = list(selectors.grants_of(connection))
    granted_users = {g.user_id for g in grants if g.user_id}
    granted_teams = {g.team_id for g in grants if g.team_id}
    memberships = list(members_of(access.organization))
    return {
        "grants": grants,
        "member_choices": [
            m for m in memberships if not m.can_manage and m.user_id not in granted_users
        ],
        "managers": [m for m in memberships if m.can_manage],
        "team_choices": [
            t
            for t in Team.objects.filter(organization_id=organization_id).order_by("name")
            if t.pk not in granted_teams
        ],
        "grant_roles": GrantRole.choices,
        "org_roles": OrgRole.choices,
    }


def _detail_context(
    request: HtmxHttpRequest,
    access: ProjectAccess,
    connection: Connection,
    role: str,
    **extra: Any,
) -> dict[str, Any]:
    tab = "access" if (extra.pop("tab", None) or request.GET.get("tab")) == "access" else "overview"
    title, icon = _connector_info(access, connection)
    context: dict[str, Any] = {
        "connection": connection,
        "role": role,
        "tab": tab,
        "connector_title": title,
        "connector_icon": icon,
        **_can(role),
    }
    if tab == "access":
        context.update(_access_context(access, connection))
    else:
        context["credentials"] = selectors.credentials_masked(connection)
        context["activity"] = list(
            AuditEntry.objects.filter(
                target_type="connection", target_id=str(connection.pk), project=access.project
            ).order_by("-id")[:ACTIVITY_LIMIT]
        )
        if connection.moved_from_profile_id:
            context["moved_from"] = connection.moved_from_profile
        context.update(
            extensions.connection_page.context(
                request=request, access=access, connection=connection
            )
        )
    context.update(extra)
    return project_context(request, access, nav="connections", **context)


@require_GET
@login_required
def connection_detail(
    request: HtmxHttpRequest, project_slug: str, connection_id: int
) -> HttpResponse:
    access, connection, role = get_connection_for_user(request.user, project_slug, connection_id)
    context = _detail_context(request, access, connection, role)
    template = "connections/detail.html"
    if request.htmx and not request.htmx.boosted and request.htmx.target == "connection-tab":
        template += "#tab"
    return render(request, template, context)


def _to_detail(project_slug: str, connection_id: int, tab: str = "") -> HttpResponse:
    url = reverse("connection_detail", args=[project_slug, connection_id])
    return redirect(f"{url}?tab={tab}" if tab else url)


def _detail_error(
    request: HtmxHttpRequest,
    access: ProjectAccess,
    connection: Connection,
    role: str,
    exc: ServiceError,
    **extra: Any,
) -> HttpResponse:
    messages.error(request, exc.message)
    context = _detail_context(request, access, connection, role, **extra)
    return render(request, "connections/detail.html", context, status=exc.status)


@require_POST
@login_required
def connection_check_now(
    request: HtmxHttpRequest, project_slug: str, connection_id: int
) -> HttpResponse:
    """Check the connection's health now; HTMX swaps the health card, a plain POST redirects."""
    access, connection, role = get_connection_for_user(
        request.user, project_slug, connection_id, need=ConnNeed.WRITE
    )
    result = health.connection_check_health(
        actor=Actor.from_request(request), connection=connection
    )
    connection.refresh_from_db()
    if request.htmx:
        context = project_context(
            request,
            access,
            nav="connections",
            connection=connection,
            result=result,
            oob=True,
            **_can(role),
        )
        return render(request, "connections/detail.html#health-card", context)
    label = Health(result.status).label.lower() if result.status in Health.values else "unknown"
    if result.status == Health.HEALTHY:
        messages.success(request, f"{connection.name} is healthy ({result.detail}).")
    elif result.status == Health.UNKNOWN:
        messages.warning(request, result.detail)
    else:
        messages.error(request, f"{connection.name}: {label}. {result.detail}")
    return _to_detail(project_slug, connection.pk)


@require_POST
@login_required
def connection_rename(
    request: HtmxHttpRequest, project_slug: str, connection_id: int
) -> HttpResponse:
    access, connection, role = get_connection_for_user(
        request.user, project_slug, connection_id, need=ConnNeed.WRITE
    )
    try:
        connection = services.connection_rename(
            actor=Actor.from_request(request),
            connection=connection,
            name=request.POST.get("name", ""),
        )
    except ServiceError as exc:
        return _detail_error(
            request, access, connection, role, exc, rename_value=request.POST.get("name", "")
        )
    messages.success(request, f"Renamed to {connection.name}.")
    return _to_detail(project_slug, connection.pk)


@require_POST
@login_required
def connection_status(
    request: HtmxHttpRequest, project_slug: str, connection_id: int
) -> HttpResponse:
    """Disable or re-enable (editor and above)."""
    access, connection, role = get_connection_for_user(
        request.user, project_slug, connection_id, need=ConnNeed.WRITE
    )
    status = request.POST.get("status", "")
    try:
        if status not in (Status.ACTIVE, Status.DISABLED):
            raise ServiceError("Choose to disable or to enable the connection.", field="status")
        connection = services.connection_set_status(
            actor=Actor.from_request(request), connection=connection, status=status
        )
    except ServiceError as exc:
        return _detail_error(request, access, connection, role, exc)
    done = "disabled" if status == Status.DISABLED else "enabled"
    messages.success(request, f"{connection.name} is {done}.")
    return _to_detail(project_slug, connection.pk)


@require_POST
@login_required
def connection_refresh_tokens(
    request: HtmxHttpRequest, project_slug: str, connection_id: int
) -> HttpResponse:
    """Refresh the OAuth tokens now (editor and above); a failing provider is a message."""
    _access, connection, _role = get_connection_for_user(
        request.user, project_slug, connection_id, need=ConnNeed.WRITE
    )
    try:
        result = tokens.connection_refresh_tokens(
            actor=Actor.from_request(request), connection=connection, force=True
        )
    except ServiceError as exc:  # UpstreamError included: the provider failed, tokens kept
        messages.error(request, exc.message)
    else:
        if result.refreshed:
            messages.success(request, "The OAuth tokens were refreshed.")
        else:
            messages.warning(request, result.detail)
    return _to_detail(project_slug, connection.pk)


@require_http_methods(["GET", "POST"])
@login_required
def connection_delete(
    request: HtmxHttpRequest, project_slug: str, connection_id: int
) -> HttpResponse:
    """GET: the confirmation page; POST: delete (owner role on the connection)."""
    access, connection, _role = get_connection_for_user(
        request.user, project_slug, connection_id, need=ConnNeed.OWN
    )
    if request.method == "GET":
        return render(
            request,
            "connections/delete.html",
            project_context(request, access, nav="connections", connection=connection),
        )
    name = connection.name
    services.connection_delete(actor=Actor.from_request(request), connection=connection)
    messages.success(request, f"Deleted the connection {name}.")
    url = reverse("connection_list", args=[project_slug])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


# --- Access: grants and the organization-level role --------------------------------------------


def _access_response(
    request: HtmxHttpRequest, project_slug: str, connection_id: int, *, status: int = 200
) -> HttpResponse:
    """After an access write: the re-rendered Access panel (HTMX), the page with the error
    (plain, failed) or a redirect to the Access tab (plain, done). Someone who removed their
    own access is sent to the list."""
    try:
        access, connection, role = get_connection_for_user(
            request.user, project_slug, connection_id
        )
    except Http404:
        messages.info(request, "You no longer have access to that connection.")
        url = reverse("connection_list", args=[project_slug])
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    if request.htmx:
        context = _detail_context(request, access, connection, role, tab="access")
        return render(request, "connections/detail.html#access-panel", context, status=status)
    if status >= 400:
        context = _detail_context(request, access, connection, role, tab="access")
        return render(request, "connections/detail.html", context, status=status)
    return _to_detail(project_slug, connection_id, "access")


def _subject(request: HtmxHttpRequest) -> tuple[str, str]:
    """``subject=user:12`` (the add form's one select) or subject_type + subject_id."""
    subject = request.POST.get("subject", "")
    if subject:
        subject_type, _, subject_id = subject.partition(":")
        return subject_type, subject_id
    return request.POST.get("subject_type", ""), request.POST.get("subject_id", "")


@require_POST
@login_required
def grant_set(request: HtmxHttpRequest, project_slug: str, connection_id: int) -> HttpResponse:
    """Add a grant or change its role (owner role on the connection)."""
    _access, connection, _role = get_connection_for_user(
        request.user, project_slug, connection_id, need=ConnNeed.OWN
    )
    subject_type, subject_id = _subject(request)
    try:
        grant = services.grant_set(
            actor=Actor.from_request(request),
            connection=connection,
            subject_type=subject_type,
            subject_id=subject_id,
            role=request.POST.get("role", ""),
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return _access_response(request, project_slug, connection_id, status=exc.status)
    subject = grant.user if grant.subject_type == SubjectType.USER else grant.team
    messages.success(request, f"{subject} is now {grant.role} of {connection.name}.")
    return _access_response(request, project_slug, connection_id)


@require_POST
@login_required
def grant_remove(request: HtmxHttpRequest, project_slug: str, connection_id: int) -> HttpResponse:
    _access, connection, _role = get_connection_for_user(
        request.user, project_slug, connection_id, need=ConnNeed.OWN
    )
    subject_type, subject_id = _subject(request)
    try:
        services.grant_remove(
            actor=Actor.from_request(request),
            connection=connection,
            subject_type=subject_type,
            subject_id=subject_id,
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return _access_response(request, project_slug, connection_id, status=exc.status)
    messages.success(request, "Access removed.")
    return _access_response(request, project_slug, connection_id)


@require_POST
@login_required
def org_role_set(request: HtmxHttpRequest, project_slug: str, connection_id: int) -> HttpResponse:
    """The organization-level role: what every member of the organization gets."""
    _access, connection, _role = get_connection_for_user(
        request.user, project_slug, connection_id, need=ConnNeed.OWN
    )
    try:
        connection = services.connection_set_org_role(
            actor=Actor.from_request(request),
            connection=connection,
            role=request.POST.get("role", ""),
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return _access_response(request, project_slug, connection_id, status=exc.status)
    label = OrgRole(connection.org_role).label.lower()
    messages.success(request, f"Organization-level access is now: {label}.")
    return _access_response(request, project_slug, connection_id)
