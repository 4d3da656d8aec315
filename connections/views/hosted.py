"""Hosted connect pages for end users: no dashboard chrome, no login, no JavaScript needed.

Every response sends ``Referrer-Policy: no-referrer`` (the token is in the URL),
``Cache-Control: no-store`` and a strict CSP (no scripts at all, no framing, forms only to
this site).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.cache import patch_cache_control
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from core.throttle import client_ip, over_limit, retry_after
from projects.services import ServiceError

from ..forms import ConnectConfigForm, OAuthCallbackForm
from ..models import ConnectSession
from ..services import connect, oauth

HOSTED_CSP: dict[str, list[str]] = {
    "default-src": [CSP.NONE],
    "script-src": [CSP.NONE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "https:"],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
}


def hosted(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["Referrer-Policy"] = "no-referrer"
        patch_cache_control(response, no_store=True)
        response["X-Robots-Tag"] = "noindex"
        return response

    return csp_override(HOSTED_CSP)(wrapper)


def _context(session: ConnectSession, **extra: Any) -> dict[str, Any]:
    version = connect.session_version(session)
    info = version.definition.get("info") or {}
    assets = info.get("assets") or {}
    return {
        "session": session,
        "project": session.project,
        "version": version,
        "title": version.title,
        "icon": assets.get("icon"),
        "auth_type": version.authentication.get("type"),
        "fields": [
            f for f in version.authentication.get("configFields") or [] if isinstance(f, dict)
        ],
        "reauth": session.account_id is not None,
        **extra,
    }


def _problem(
    request: HttpRequest,
    message: str,
    *,
    kind: str,
    status: int,
    session: ConnectSession | None = None,
) -> HttpResponse:
    context = {"message": message, "kind": kind, "project": session.project if session else None}
    return render(request, "connect/problem.html", context, status=status)


STATUS_FOR = {"unknown": 404, "expired": 410, "used": 410}


# No CSRF token: with Referrer-Policy: no-referrer browsers send "Origin: null" on the form's
# POST, which Django's CSRF check refuses; and there is no ambient authority to protect: the
# page is authorised by the unguessable single-use token in its URL, not by a login cookie.
@csrf_exempt
@hosted
@require_http_methods(["GET", "POST"])
def connect_page(request: HttpRequest, token: str) -> HttpResponse:
    try:
        session = connect.session_for_token(token)
    except connect.SessionUnusable as exc:
        return _problem(request, exc.message, kind=exc.kind, status=STATUS_FOR[exc.kind])
    if request.method == "GET":
        return render(request, "connect/page.html", _context(session, values={}, token=token))
    # Each POST may call the provider (a health check): limited per link and address.
    if over_limit(
        request,
        group="connect_page",
        key=f"{token}|{client_ip(request)}",
        rate=settings.THROTTLE_CONNECT_RATE,
    ):
        message = "Too many attempts from your address. Please wait a few minutes and try again."
        response = _problem(request, message, kind="throttled", status=429, session=session)
        response["Retry-After"] = str(retry_after(settings.THROTTLE_CONNECT_RATE))
        return response
    form = ConnectConfigForm(request.POST)
    values = form.values()
    try:
        form.check()
        connection = connect.connect_with_config(token=token, values=values)
    except connect.SessionUnusable as exc:
        return _problem(request, exc.message, kind=exc.kind, status=STATUS_FOR[exc.kind])
    except ServiceError as exc:
        safe_values = {
            f["key"]: values.get(f["key"], "")
            for f in _context(session)["fields"]
            if not f.get("secret") and f["key"] != exc.field  # the refused value is not echoed
        }
        context = _context(
            session, error=exc.message, error_field=exc.field, values=safe_values, token=token
        )
        return render(request, "connect/page.html", context, status=400)
    return render(
        request,
        "connect/done.html",
        {
            "project": session.project,
            "connection": connection,
            "title": _context(session)["title"],
            "reauth": session.account_id is not None,
        },
    )


@hosted
@require_GET
def oauth_start(request: HttpRequest, token: str) -> HttpResponse:
    try:
        url = oauth.oauth_start(token=token, browser=request.session)
    except connect.SessionUnusable as exc:
        return _problem(request, exc.message, kind=exc.kind, status=STATUS_FOR[exc.kind])
    except ServiceError as exc:
        return _problem(request, exc.message, kind="setup", status=400)
    return HttpResponseRedirect(url)


@hosted
@require_GET
def oauth_callback(request: HttpRequest) -> HttpResponse:
    params = OAuthCallbackForm(request.GET).params()
    try:
        connection, reauth = oauth.oauth_callback(params=params, browser=request.session)
    except oauth.CallbackError as exc:
        return _problem(request, exc.message, kind="oauth", status=400, session=exc.session)
    version = connection.resolved_version
    return render(
        request,
        "connect/done.html",
        {
            "project": connection.project,
            "connection": connection,
            "title": version.title if version else connection.connector.key,
            "reauth": reauth,
        },
    )
