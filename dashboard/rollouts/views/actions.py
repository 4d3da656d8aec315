"""What admins do on a migration page: a reconnect link for one account, reconnect emails
for the selected (or all) pending accounts, completing the migration."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_POST

from core.forms import first_error, plural
from dashboard.context import project_context
from dashboard.rollouts.forms import ConfirmForm, NotifyForm, ScheduleForm
from projects.http import HtmxHttpRequest
from projects.permissions import ProjectAccess
from projects.services import Actor, ServiceError
from rollouts import selectors as sel
from rollouts import services as migration_services
from rollouts.models import ProfileMigration
from rollouts.services import deadlines

from .common import get_migration_for_user
from .pages import detail_context


def _detail_error(
    request: HtmxHttpRequest, access: ProjectAccess, migration: ProfileMigration, exc: ServiceError
) -> HttpResponse:
    messages.error(request, exc.message)
    context, _status = detail_context(request, access, migration)
    return render(request, "dashboard/rollouts/detail.html", context, status=exc.status)


def _confirm(
    request: HtmxHttpRequest, access: ProjectAccess, migration: ProfileMigration, kind: str
) -> HttpResponse:
    return render(
        request,
        "dashboard/rollouts/confirm.html",
        project_context(
            request,
            access,
            nav="migrations",
            migration=migration,
            kind=kind,
            pending=sel.progress(migration).pending,
        ),
    )


@cache_control(no_store=True)
@require_POST
@login_required
def migration_link_create(
    request: HtmxHttpRequest, project_slug: str, migration_id: UUID, connection_id: UUID
) -> HttpResponse:
    """A reconnect link for one pending account (reused while valid). HTMX swaps the row;
    a plain POST returns to the migration page, where the row shows the link."""
    access, migration = get_migration_for_user(request, project_slug, migration_id)
    connection = sel.pending_columns(migration).filter(public_id=connection_id).first()
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
            row=sel.PendingRow(connection, notice, url),
        )
        return render(request, "dashboard/rollouts/detail.html#pending-row", context)
    messages.success(request, f"Reconnect link ready for {connection.name}.")
    detail = reverse("migration_detail", args=[project_slug, migration.public_id])
    return redirect(f"{detail}#pending")


@cache_control(no_store=True)
@require_POST
@login_required
def migration_notify(
    request: HtmxHttpRequest, project_slug: str, migration_id: UUID
) -> HttpResponse:
    """Queue the reconnect email for the selected pending accounts, or for all of them
    (after a confirmation page)."""
    access, migration = get_migration_for_user(request, project_slug, migration_id)
    form = NotifyForm(request.POST)
    if not form.is_valid():
        return _detail_error(request, access, migration, ServiceError(first_error(form)[1]))
    if form.cleaned_data["scope"] == "all" and not form.all_confirmed:
        return _confirm(request, access, migration, "notify")
    ids = None if form.cleaned_data["scope"] == "all" else form.selected
    try:
        queued = migration_services.migration_notify(
            actor=Actor.from_request(request), migration=migration, connection_ids=ids
        )
    except ServiceError as exc:
        return _detail_error(request, access, migration, exc)
    if queued:
        messages.success(
            request,
            f"{plural(queued, 'email')} queued. Each account gets its own single-use "
            "reconnect link; accounts without an email address are skipped.",
        )
    else:
        messages.warning(request, "No email queued: none of the selected accounts is pending.")
    return redirect("migration_detail", project_slug, migration.public_id)


@cache_control(no_store=True)
@require_POST
@login_required
def migration_complete(
    request: HtmxHttpRequest, project_slug: str, migration_id: UUID
) -> HttpResponse:
    access, migration = get_migration_for_user(request, project_slug, migration_id)
    if not ConfirmForm(request.POST).is_confirmed:
        return _confirm(request, access, migration, "complete")
    was_open = migration.is_open
    migration = migration_services.migration_complete(
        actor=Actor.from_request(request), migration=migration
    )
    if was_open:
        messages.success(request, f"“{migration.title}” is complete.")
    else:
        messages.info(request, f"“{migration.title}” was complete already.")
    return redirect("migration_detail", project_slug, migration.public_id)


@require_POST
@login_required
def migration_schedule(
    request: HtmxHttpRequest, project_slug: str, migration_id: UUID
) -> HttpResponse:
    """Set the deadline, its action and the reminder days (rollouts.services.deadlines)."""
    _access, migration = get_migration_for_user(request, project_slug, migration_id)
    form = ScheduleForm(request.POST)
    try:
        if not form.is_valid():
            raise ServiceError(first_error(form)[1])
        deadlines.migration_schedule_set(
            actor=Actor.from_request(request),
            migration=migration,
            deadline=form.cleaned_data["deadline"],
            deadline_action=form.cleaned_data["deadline_action"],
            reminder_days=form.cleaned_data["reminder_days"],
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Deadline and reminders saved.")
    return redirect("migration_detail", project_slug, migration.public_id)
