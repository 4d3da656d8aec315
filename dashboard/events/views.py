"""Settings → Webhooks: endpoints (a secret shown once at creation and rotation), their
delivery log with "retry now". For owners and admins only, reading included (events.
permissions: a delivery's payload names connections across the project)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_http_methods, require_POST

from core.pager import InvalidCursor, Page, without_cursors
from dashboard.context import project_context
from events import selectors, services
from events.models import Delivery, WebhookEndpoint
from events.permissions import WEBHOOKS_NEED, get_delivery_for_user, get_endpoint_for_user
from projects.http import HtmxHttpRequest
from projects.permissions import Need, ProjectAccess, get_project_for_user
from projects.services import Actor, ServiceError

from .forms import DeliveryFilterForm, EndpointForm

DELIVERIES_PER_PAGE = 50


def _form_error(form: EndpointForm, exc: ServiceError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _list_context(
    request: HtmxHttpRequest, access: ProjectAccess, form: EndpointForm, **extra: Any
) -> dict[str, Any]:
    return project_context(
        request,
        access,
        nav="settings",
        tab="webhooks",
        form=form,
        endpoints=list(selectors.endpoints_with_counts(access.project)),
        disabled_by_platform=selectors.endpoints_disabled_by_platform(access.project),
        **extra,
    )


@cache_control(no_store=True)
@require_http_methods(["GET", "POST"])
@login_required
def settings_webhooks(request: HtmxHttpRequest, project_slug: str) -> HttpResponse:
    access = get_project_for_user(request.user, project_slug, need=WEBHOOKS_NEED)
    form = EndpointForm(request.POST or None)
    created: tuple[WebhookEndpoint, str] | None = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                created = services.endpoint_create(
                    actor=Actor.from_request(request),
                    project=access.project,
                    url=form.cleaned_data["url"],
                    events=form.cleaned_data["events"],
                    description=form.cleaned_data["description"],
                )
                form = EndpointForm()
            except ServiceError as exc:
                _form_error(form, exc)
        if created is None:
            status = 400
    context = _list_context(
        request,
        access,
        form,
        new_endpoint=created[0] if created else None,
        new_secret=created[1] if created else None,
    )
    template = "dashboard/events/settings_webhooks.html"
    if request.htmx and request.method == "POST":
        template += "#webhooks-panel"
    # The new secret is rendered into this response only (never stored in plain, never
    # redirected through).
    return render(request, template, context, status=status)


def _deliveries(
    endpoint: WebhookEndpoint, filters: DeliveryFilterForm
) -> tuple[Page[Delivery], bool]:
    data = filters.cleaned_data if filters.is_valid() else {}
    try:
        page = selectors.deliveries_page(
            endpoint,
            status=data.get("status") or "",
            event_type=data.get("event_type") or "",
            connection_id=str(data.get("connection") or ""),
            after=data.get("after") or "",
            before=data.get("before") or "",
            limit=DELIVERIES_PER_PAGE,
        )
        return page, False
    except InvalidCursor:
        return selectors.deliveries_page(endpoint, limit=DELIVERIES_PER_PAGE), True


@cache_control(no_store=True)
@require_http_methods(["GET", "POST"])
@login_required
def webhook_detail(request: HtmxHttpRequest, project_slug: str, endpoint_id: UUID) -> HttpResponse:
    access, endpoint = get_endpoint_for_user(request.user, project_slug, endpoint_id)
    initial = {"url": endpoint.url, "events": endpoint.events, "description": endpoint.description}
    form = EndpointForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.endpoint_update(
                    actor=Actor.from_request(request),
                    endpoint=endpoint,
                    url=form.cleaned_data["url"],
                    events=form.cleaned_data["events"],
                    description=form.cleaned_data["description"],
                )
                messages.success(request, "Endpoint saved.")
                return redirect("webhook_detail", project_slug, endpoint.public_id)
            except ServiceError as exc:
                _form_error(form, exc)
        status = 400
    return _detail_response(request, access, endpoint, form=form, status=status)


def _detail_response(
    request: HtmxHttpRequest,
    access: ProjectAccess,
    endpoint: WebhookEndpoint,
    *,
    form: EndpointForm | None = None,
    new_secret: str | None = None,
    status: int = 200,
) -> HttpResponse:
    filters = DeliveryFilterForm(request.GET)
    page, bad_cursor = _deliveries(endpoint, filters)
    if request.method == "GET" and filters.errors:
        status = 400  # a filter that names nothing (the form says which): nothing filtered
    base = reverse("webhook_detail", args=[access.project.slug, endpoint.public_id])
    newer, older = page.links(request.GET, base=base) if request.method == "GET" else ("", "")
    context = project_context(
        request,
        access,
        nav="settings",
        tab="webhooks",
        endpoint=endpoint,
        form=form
        or EndpointForm(
            initial={
                "url": endpoint.url,
                "events": endpoint.events,
                "description": endpoint.description,
            }
        ),
        filters=filters,
        deliveries=[(d, services.payload_of(d.event)) for d in page.items],
        newer_link=newer,
        older_link=older,
        bad_cursor=bad_cursor,
        query=without_cursors(request.GET),
        new_secret=new_secret,
    )
    template = "dashboard/events/webhook_detail.html"
    if request.htmx and request.method == "GET" and not request.htmx.boosted:
        template += "#deliveries-table"
    return render(request, template, context, status=status)


@require_POST
@login_required
def webhook_toggle(request: HtmxHttpRequest, project_slug: str, endpoint_id: UUID) -> HttpResponse:
    _access, endpoint = get_endpoint_for_user(
        request.user, project_slug, endpoint_id, need=Need.MANAGE
    )
    enable = request.POST.get("enabled") == "true"
    services.endpoint_update(actor=Actor.from_request(request), endpoint=endpoint, enabled=enable)
    messages.success(request, "Endpoint enabled." if enable else "Endpoint disabled.")
    return redirect("webhook_detail", project_slug, endpoint.public_id)


@cache_control(no_store=True)
@require_POST
@login_required
def webhook_rotate(request: HtmxHttpRequest, project_slug: str, endpoint_id: UUID) -> HttpResponse:
    access, endpoint = get_endpoint_for_user(
        request.user, project_slug, endpoint_id, need=Need.MANAGE
    )
    _until, secret = services.endpoint_rotate_secret(
        actor=Actor.from_request(request), endpoint=endpoint
    )
    endpoint.refresh_from_db()
    messages.success(request, "New secret made; the old one keeps signing for 24 hours.")
    return _detail_response(request, access, endpoint, new_secret=secret)


@require_POST
@login_required
def webhook_test(request: HtmxHttpRequest, project_slug: str, endpoint_id: UUID) -> HttpResponse:
    _access, endpoint = get_endpoint_for_user(
        request.user, project_slug, endpoint_id, need=Need.MANAGE
    )
    try:
        services.endpoint_send_test(actor=Actor.from_request(request), endpoint=endpoint)
        messages.success(request, "Test event queued; its delivery appears in the log below.")
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("webhook_detail", project_slug, endpoint.public_id)


@require_POST
@login_required
def webhook_delete(request: HtmxHttpRequest, project_slug: str, endpoint_id: UUID) -> HttpResponse:
    _access, endpoint = get_endpoint_for_user(
        request.user, project_slug, endpoint_id, need=Need.MANAGE
    )
    services.endpoint_delete(actor=Actor.from_request(request), endpoint=endpoint)
    messages.success(request, f"Endpoint {endpoint.url} deleted.")
    return redirect("settings_webhooks", project_slug)


@require_POST
@login_required
def delivery_retry(
    request: HtmxHttpRequest, project_slug: str, endpoint_id: UUID, delivery_id: UUID
) -> HttpResponse:
    _access, delivery = get_delivery_for_user(request.user, project_slug, endpoint_id, delivery_id)
    try:
        services.delivery_retry(actor=Actor.from_request(request), delivery=delivery)
        messages.success(request, "Delivery queued again.")
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("webhook_detail", project_slug, endpoint_id)
