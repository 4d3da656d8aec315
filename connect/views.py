"""Hosted connect pages for end users: no dashboard chrome, no login, no JavaScript needed.

Every response sends ``Referrer-Policy: no-referrer`` (the token is in the URL),
``Cache-Control: no-store`` and a strict CSP: no scripts at all (in popup or embedded mode one
script file of ours, never inline), styles from our own files only (the project's colours
come in a generated stylesheet), forms only to this site, and no framing unless the project
allow-lists the origins that may frame it.

The page speaks the session's ``locale``, else the browser's ``Accept-Language`` (settings.
LANGUAGES). Its look is the project's ConnectBranding (services.branding).

Modes (``?mode=``): ``redirect`` (the default) sends the end user to the session's
``success_url`` / ``error_url`` at the end, or shows a done page; ``popup`` and ``embedded``
show the done page and tell the opener (or the framing page) the outcome with
``postMessage``, aimed at the origin of the session's success/error URL only
(static/connect/popup.js).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, wraps
from typing import Any

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import translation
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.csp import CSP
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from connections.models import Connection, ConnectSession, Theme
from connections.services import branding, connect, oauth
from core.throttle import client_ip, over_limit, retry_after
from interfaces_common.csp import HOSTED_CSP
from projects.models import Project
from projects.services import ServiceError

from .forms import ConnectConfigForm, OAuthCallbackForm

MODES = ("redirect", "popup", "embedded")
BROWSER_MODES = "connect_modes"  # request.session key: session id → mode (OAuth round trip)


def hosted_csp(
    *, script: bool, frame_ancestors: tuple[str, ...], return_origins: tuple[str, ...] = ()
) -> dict[str, list[str]]:
    """HOSTED_CSP, with our own script files in popup/embedded mode, the project's allowed
    origins as frame ancestors, and the session's success/error URL origins as form targets
    (the form's POST ends in a redirect there). Nothing else ever loosens."""
    policy = dict(HOSTED_CSP)
    if script:
        policy["script-src"] = [CSP.SELF]
    if frame_ancestors:
        policy["frame-ancestors"] = list(frame_ancestors)
    if return_origins:
        policy["form-action"] = [CSP.SELF, *return_origins]
    return policy


def hosted(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with translation.override(translation.get_language_from_request(request)):
            response = view(request, *args, **kwargs)
            response["Content-Language"] = translation.get_language()
        response["Referrer-Policy"] = "no-referrer"
        patch_cache_control(response, no_store=True)
        response["X-Robots-Tag"] = "noindex"
        patch_vary_headers(response, ["Accept-Language"])
        look: branding.Look | None = getattr(response, "hosted_look", None)
        mode = getattr(response, "hosted_mode", "redirect")
        frame_ancestors = look.allowed_origins if look is not None else ()
        policy = hosted_csp(
            script=mode != "redirect",
            frame_ancestors=frame_ancestors,
            return_origins=getattr(response, "hosted_return_origins", ()),
        )
        setattr(response, "_csp_config", policy)  # what @csp_override sets  # noqa: B010
        if frame_ancestors:
            response.xframe_options_exempt = True
        if mode == "popup":
            # The opener keeps its handle on the popup (postMessage, closed).
            response["Cross-Origin-Opener-Policy"] = "unsafe-none"
        return response

    return wrapper


def _mode(request: HttpRequest) -> str:
    mode = request.GET.get("mode", "redirect")
    return mode if mode in MODES else "redirect"


def _target_origin(session: ConnectSession) -> str:
    url = session.success_url or session.error_url
    return branding.origin_of(url) if url else ""


def _page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    project: Project | None,
    mode: str = "redirect",
    status: int = 200,
    session: ConnectSession | None = None,
) -> HttpResponse:
    look = branding.look_of(project, branding.branding_of(project)) if project else None
    response = render(request, template, {"look": look, "mode": mode, **context}, status=status)
    response.hosted_look = look  # type: ignore[attr-defined]
    response.hosted_mode = mode  # type: ignore[attr-defined]
    if session is not None and mode == "redirect":
        urls = [u for u in (session.success_url, session.error_url) if u]
        origins = tuple(dict.fromkeys(branding.origin_of(u) for u in urls))
        response.hosted_return_origins = origins  # type: ignore[attr-defined]
    return response


def _popup(session: ConnectSession, mode: str, outcome: str = "", **data: str) -> dict[str, Any]:
    if mode == "redirect":
        return {}
    return {"popup": {"origin": _target_origin(session), "outcome": outcome, **data}}


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
    mode: str = "redirect",
) -> HttpResponse:
    """A terminal problem: the session's error_url (redirect mode), else the problem page."""
    if session is not None and mode == "redirect" and session.error_url and kind != "throttled":
        return HttpResponseRedirect(branding.with_params(session.error_url, error=kind))
    context = {
        "message": message,
        "kind": kind,
        "project": session.project if session else None,
        **(_popup(session, mode, "error", error=kind) if session else {}),
    }
    return _page(
        request,
        "connect/problem.html",
        context,
        project=session.project if session else None,
        mode=mode if session else "redirect",
        status=status,
    )


def _done(
    request: HttpRequest,
    session: ConnectSession,
    connection: Connection,
    *,
    title: str,
    reauth: bool,
    mode: str,
) -> HttpResponse:
    """Success: the session's success_url with the connection's id (redirect mode), else the
    done page (which tells the opener in popup/embedded mode)."""
    if mode == "redirect" and session.success_url:
        return HttpResponseRedirect(
            branding.with_params(session.success_url, connection_id=str(connection.public_id))
        )
    context = {
        "project": session.project,
        "connection": connection,
        "title": title,
        "reauth": reauth,
        **_popup(session, mode, "success", connection_id=str(connection.public_id)),
    }
    return _page(request, "connect/done.html", context, project=session.project, mode=mode)


STATUS_FOR = {"unknown": 404, "expired": 410, "used": 410}


# No CSRF token: with Referrer-Policy: no-referrer browsers send "Origin: null" on the form's
# POST, which Django's CSRF check refuses; and there is no ambient authority to protect: the
# page is authorised by the unguessable single-use token in its URL, not by a login cookie.
@csrf_exempt
@hosted
@require_http_methods(["GET", "POST"])
def connect_page(request: HttpRequest, token: str) -> HttpResponse:
    mode = _mode(request)
    try:
        session = connect.session_for_token(token)
    except connect.SessionUnusable as exc:
        if exc.session is not None and exc.session.locale:
            translation.activate(exc.session.locale)
            try:  # the same refusal, in the session's language
                connect.check_usable(exc.session)
            except connect.SessionUnusable as again:
                exc = again
        return _problem(
            request,
            exc.message,
            kind=exc.kind,
            status=STATUS_FOR[exc.kind],
            session=exc.session,
            mode=mode,
        )
    if session.locale:
        translation.activate(session.locale)  # hosted() restores the language afterwards

    def page(status: int = 200, **extra: Any) -> HttpResponse:
        context = _context(session, token=token, **_popup(session, mode), **extra)
        return _page(
            request,
            "connect/page.html",
            context,
            project=session.project,
            mode=mode,
            status=status,
            session=session,
        )

    if request.method == "GET":
        return page(values={})
    # Each POST may call the provider (a health check): limited per link and address.
    if over_limit(
        request,
        group="connect_page",
        key=f"{token}|{client_ip(request)}",
        rate=settings.THROTTLE_CONNECT_RATE,
    ):
        message = _("Too many attempts from your address. Please wait a few minutes and try again.")
        response = _problem(
            request, message, kind="throttled", status=429, session=session, mode=mode
        )
        response["Retry-After"] = str(retry_after(settings.THROTTLE_CONNECT_RATE))
        return response
    form = ConnectConfigForm(request.POST)
    values = form.values()
    try:
        form.check()
        connection = connect.connect_with_config(token=token, values=values)
    except connect.SessionUnusable as exc:
        return _problem(
            request,
            exc.message,
            kind=exc.kind,
            status=STATUS_FOR[exc.kind],
            session=exc.session,
            mode=mode,
        )
    except ServiceError as exc:
        safe_values = {
            f["key"]: values.get(f["key"], "")
            for f in _context(session)["fields"]
            if not f.get("secret") and f["key"] != exc.field  # the refused value is not echoed
        }
        keys = {f["key"] for f in _context(session)["fields"]}
        field = exc.field if exc.field in keys else None  # else the message shows on top
        return page(400, error=exc.message, error_field=field, values=safe_values)
    return _done(
        request,
        session,
        connection,
        title=_context(session)["title"],
        reauth=session.account_id is not None,
        mode=mode,
    )


@hosted
@require_GET
def oauth_start(request: HttpRequest, token: str) -> HttpResponse:
    mode = _mode(request)
    try:
        url = oauth.oauth_start(token=token, browser=request.session)
    except connect.SessionUnusable as exc:
        return _problem(
            request,
            exc.message,
            kind=exc.kind,
            status=STATUS_FOR[exc.kind],
            session=exc.session,
            mode=mode,
        )
    except ServiceError as exc:
        return _problem(request, exc.message, kind="setup", status=400)
    session = connect.session_for_token(token)
    modes = dict(request.session.get(BROWSER_MODES) or {})
    modes[str(session.pk)] = mode
    request.session[BROWSER_MODES] = dict(list(modes.items())[-5:])
    response = HttpResponseRedirect(url)
    response.hosted_mode = mode  # type: ignore[attr-defined]
    return response


@hosted
@require_GET
def oauth_callback(request: HttpRequest) -> HttpResponse:
    params = OAuthCallbackForm(request.GET).params()
    modes = dict(request.session.get(BROWSER_MODES) or {})
    try:
        connection, reauth = oauth.oauth_callback(params=params, browser=request.session)
    except oauth.CallbackError as exc:
        mode = modes.get(str(exc.session.pk), "redirect") if exc.session else "redirect"
        return _problem(
            request, exc.message, kind=exc.code, status=400, session=exc.session, mode=mode
        )
    session = (
        ConnectSession.objects.select_related("project__organization")
        .filter(connection=connection, used_at__isnull=False)
        .latest("used_at")
    )
    version = connection.resolved_version
    return _done(
        request,
        session,
        connection,
        title=version.title if version else connection.connector.key,
        reauth=reauth,
        mode=modes.get(str(session.pk), "redirect"),
    )


# --- Assets: the generated stylesheet and the project's logo ------------------------------------


@cache
def _bootstrap_dark_vars() -> str:
    """The custom properties of Bootstrap's dark colour mode, for the ``auto`` theme's media
    query (Bootstrap switches modes by attribute only, which needs a script)."""
    path = finders.find("vendor/bootstrap-5.3.9/bootstrap.min.css")
    if not path:
        return ""
    with open(str(path), encoding="utf-8") as handle:
        css = handle.read()
    marker = "[data-bs-theme=dark]{"
    start = css.find(marker)
    if start < 0:
        return ""
    start += len(marker)
    return css[start : css.find("}", start)]


@require_GET
def theme_css(request: HttpRequest) -> HttpResponse:
    """``/connect/theme.css?primary=rrggbb&theme=auto|light|dark``: derived from the query
    alone (no project is read), so it may be cached anywhere."""
    primary = "#" + request.GET.get("primary", branding.DEFAULT_PRIMARY[1:]).lower()
    theme = request.GET.get("theme", Theme.AUTO)
    if theme not in Theme.values or not branding.is_hex(primary):
        return HttpResponse("/* unknown colour or theme */", status=400, content_type="text/css")
    css = branding.theme_css(primary, theme, _bootstrap_dark_vars())
    response = HttpResponse(css, content_type="text/css; charset=utf-8")
    patch_cache_control(response, public=True, max_age=86400)
    return response


@require_GET
def logo(request: HttpRequest, digest: str) -> HttpResponse:
    data = branding.logo_bytes(digest)
    if data is None:
        raise Http404("No such logo.")
    response = HttpResponse(data, content_type="image/png")
    # The digest is in the URL: a new logo is a new URL.
    patch_cache_control(response, public=True, max_age=31536000, immutable=True)
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
