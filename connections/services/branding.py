"""The look of a project's hosted connect pages and where they may send the end user back.

- The logo: PNG, JPEG or WebP recognised by its content (Pillow), never by its name or the
  browser's content type; SVG and anything else is refused. It is decoded and re-encoded as
  a PNG of at most ``LOGO_MAX_SIDE`` pixels (metadata and any trailing payload dropped) and
  served by us, so the end user's browser never loads a URL a customer chose.
- The primary colour: ``#rrggbb``; the button text is white or black, whichever contrasts
  more (at least 4.5:1, WCAG AA for text), and the colour must stand out from the page's
  background by 3:1 (WCAG 1.4.11, non-text contrast) in every theme the page may show.
- Allowed origins (``https://app.example.com``): the only places ``success_url`` /
  ``error_url`` may point to, the only targets of the popup's ``postMessage`` and the only
  pages that may frame the connect page.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from PIL import Image, UnidentifiedImageError

from core.validation import email_problem, text_problem
from projects.models import Project
from projects.services import Actor, ServiceError, audit_record

from ..models import ConnectBranding, Theme

MAX_LOGO_BYTES = 512 * 1024
LOGO_MAX_SIDE = 256
LOGO_MAX_PIXELS = 4096 * 4096  # refused before decoding (no decompression bomb)
LOGO_FORMATS = {"PNG", "JPEG", "WEBP"}
MAX_ORIGINS = 20
MAX_URL = 2000

LIGHT_BACKGROUND = "#ffffff"  # Bootstrap's card background, light
DARK_BACKGROUND = "#212529"  # ... and dark
DEFAULT_PRIMARY = "#0d6efd"


# --- Colours -----------------------------------------------------------------------------------


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(color: str) -> float:
    """WCAG relative luminance of ``#rrggbb``."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def text_color_on(color: str) -> str:
    """White or black, whichever is more readable on ``color``."""
    return "#ffffff" if contrast(color, "#ffffff") >= contrast(color, "#000000") else "#000000"


def backgrounds(theme: str) -> list[str]:
    return {
        Theme.LIGHT: [LIGHT_BACKGROUND],
        Theme.DARK: [DARK_BACKGROUND],
    }.get(Theme(theme), [LIGHT_BACKGROUND, DARK_BACKGROUND])


def is_hex(color: str) -> bool:
    return len(color) == 7 and color[0] == "#" and all(c in "0123456789abcdef" for c in color[1:])


def color_problem(color: str, theme: str) -> str | None:
    """Why ``color`` cannot be the primary colour in ``theme`` (or None)."""
    if not is_hex(color):
        return "The primary colour must be a hex colour such as #1a7f5a."
    text = text_color_on(color)
    if contrast(color, text) < 4.5:
        return (
            f"The primary colour {color} leaves button text unreadable (contrast "
            f"{contrast(color, text):.1f}:1, WCAG AA needs 4.5:1)."
        )
    for background in backgrounds(theme):
        ratio = contrast(color, background)
        if ratio < 3:
            name = "dark" if background == DARK_BACKGROUND else "light"
            return (
                f"The primary colour {color} is too close to the {name} page background "
                f"(contrast {ratio:.1f}:1; WCAG AA needs 3:1 for buttons). Choose a "
                + ("lighter" if name == "dark" else "darker")
                + " shade"
                + (", or a light or dark theme instead of auto." if theme == Theme.AUTO else ".")
            )
    return None


# --- Logos -------------------------------------------------------------------------------------


def logo_png(data: bytes) -> bytes:
    """The uploaded logo as a clean PNG; ServiceError (field ``logo``) for anything else."""
    if len(data) > MAX_LOGO_BYTES:
        raise ServiceError(
            f"The logo must be at most {MAX_LOGO_BYTES // 1024} KB (it has "
            f"{(len(data) + 1023) // 1024:,} KB).",
            field="logo",
        )
    refused = ServiceError(
        "The logo must be a PNG, JPEG or WebP image (SVG is not accepted).", field="logo"
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=sorted(LOGO_FORMATS)) as image:
                if image.format not in LOGO_FORMATS:
                    raise refused
                width, height = image.size
                if width * height > LOGO_MAX_PIXELS:
                    raise ServiceError(
                        f"The logo is {width}×{height} pixels; at most 4096×4096.", field="logo"
                    )
                image.load()
                clean = image.convert("RGBA")
                clean.thumbnail((LOGO_MAX_SIDE, LOGO_MAX_SIDE))
                out = io.BytesIO()
                clean.save(out, format="PNG", optimize=True)
    except ServiceError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Warning) as exc:
        raise refused from exc
    return out.getvalue()


# --- Origins and return URLs -------------------------------------------------------------------


def _http_allowed() -> bool:
    return bool(getattr(settings, "CONNECT_ALLOW_HTTP_ORIGINS", False))


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_origin(raw: str) -> str:
    """``scheme://host[:port]`` in lower case; ServiceError (field ``allowed_origins``)."""
    value = raw.strip().rstrip("/")
    problem = text_problem(value, max_length=200)
    if problem is not None:
        raise ServiceError(f"The origin {problem}.", field="allowed_origins")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ServiceError(f"“{value}” is not an origin.", field="allowed_origins") from exc
    schemes = ("https", "http") if _http_allowed() else ("https",)
    if (
        parts.scheme not in schemes
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or parts.path
        or parts.query
        or parts.fragment
        or "*" in value
    ):
        need = "https://" if not _http_allowed() else "https:// (or http://)"
        raise ServiceError(
            f"“{value}” is not an origin: write {need}host[:port], without a path.",
            field="allowed_origins",
        )
    return value.lower()


def check_return_url(url: str, allowed: list[str], *, field: str) -> str:
    """``url`` when it may be a success/error URL of a session: an absolute https URL (http
    too in local and test settings) on one of the project's allowed origins."""
    problem = text_problem(url, max_length=MAX_URL)
    if problem is not None:
        raise ServiceError(f"{field} {problem}.", field=field)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018
    except ValueError as exc:
        raise ServiceError(f"{field} is not a valid URL.", field=field) from exc
    schemes = ("https", "http") if _http_allowed() else ("https",)
    if parts.scheme not in schemes or not parts.hostname or "\\" in url or " " in url:
        raise ServiceError(f"{field} must be an absolute https:// URL.", field=field)
    if parts.username is not None or parts.password is not None:
        raise ServiceError(f"{field} must not carry a user name or password.", field=field)
    if origin_of(url) not in allowed:
        raise ServiceError(
            f"{field} must be on one of the project's allowed origins (Settings → Connect "
            f"pages); {origin_of(url)} is not one of them.",
            field=field,
        )
    return url


def with_params(url: str, **params: str) -> str:
    """``url`` with ``params`` set in its query (replacing any of the same name)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query.extend(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


# --- Reading and saving ------------------------------------------------------------------------


@dataclass(frozen=True)
class Look:
    """What a hosted page shows: the saved branding, or the defaults."""

    name: str
    logo_url: str | None
    primary: str
    text_on_primary: str
    theme: str
    terms_url: str
    privacy_url: str
    support_email: str
    allowed_origins: tuple[str, ...]

    @property
    def css_query(self) -> str:
        return urlencode({"primary": self.primary[1:], "theme": self.theme})


def branding_of(project: Project) -> ConnectBranding | None:
    return ConnectBranding.objects.filter(project=project).defer("logo").first()


def look_of(project: Project, branding: ConnectBranding | None = None) -> Look:
    b = branding
    logo_url = None
    if b is not None and b.logo_sha256:
        logo_url = reverse("connect_logo", args=[b.logo_sha256])
    primary = (b.primary_color if b else "") or DEFAULT_PRIMARY
    return Look(
        name=(b.display_name if b else "") or project.organization.name,
        logo_url=logo_url,
        primary=primary,
        text_on_primary=text_color_on(primary),
        theme=b.theme if b else Theme.AUTO,
        terms_url=b.terms_url if b else "",
        privacy_url=b.privacy_url if b else "",
        support_email=b.support_email if b else "",
        allowed_origins=tuple(b.allowed_origins) if b else (),
    )


def _public_url(value: str, field: str, label: str) -> str:
    if not value:
        return ""
    problem = text_problem(value, max_length=500)
    if problem is not None:
        raise ServiceError(f"The {label} {problem}.", field=field)
    parts = urlsplit(value)
    schemes = ("https", "http") if _http_allowed() else ("https",)
    if parts.scheme not in schemes or not parts.hostname or parts.username or parts.password:
        raise ServiceError(f"The {label} must be an https:// address.", field=field)
    return value


@transaction.atomic
def branding_update(
    *,
    actor: Actor,
    project: Project,
    display_name: str,
    primary_color: str,
    theme: str,
    terms_url: str = "",
    privacy_url: str = "",
    support_email: str = "",
    allowed_origins: list[str] | None = None,
    logo: bytes | None = None,
    remove_logo: bool = False,
) -> ConnectBranding:
    """Save every field, or nothing (ServiceError naming the first refused field)."""
    display_name = display_name.strip()
    problem = text_problem(display_name, max_length=80)
    if problem is not None:
        raise ServiceError(f"The display name {problem}.", field="display_name")
    if theme not in Theme.values:
        raise ServiceError("Choose a theme: auto, light or dark.", field="theme")
    primary_color = primary_color.strip().lower()
    if primary_color:
        problem = color_problem(primary_color, theme)
        if problem is not None:
            raise ServiceError(problem, field="primary_color")
    terms_url = _public_url(terms_url.strip(), "terms_url", "terms URL")
    privacy_url = _public_url(privacy_url.strip(), "privacy_url", "privacy policy URL")
    support_email = support_email.strip()
    problem = email_problem(support_email)
    if problem is not None:
        raise ServiceError(f"The support email {problem}.", field="support_email")
    origins = list(dict.fromkeys(check_origin(o) for o in allowed_origins or [] if o.strip()))
    if len(origins) > MAX_ORIGINS:
        raise ServiceError(
            f"At most {MAX_ORIGINS} allowed origins (there are {len(origins)}).",
            field="allowed_origins",
        )
    png = logo_png(logo) if logo is not None else None

    branding, _created = ConnectBranding.objects.select_for_update().get_or_create(project=project)
    before = _audit_view(branding)
    branding.display_name = display_name
    branding.primary_color = primary_color
    branding.theme = theme
    branding.terms_url = terms_url
    branding.privacy_url = privacy_url
    branding.support_email = support_email
    branding.allowed_origins = origins
    if png is not None:
        branding.logo = png
        branding.logo_sha256 = hashlib.sha256(png).hexdigest()
    elif remove_logo:
        branding.logo = b""
        branding.logo_sha256 = ""
    branding.save()
    after = _audit_view(branding)
    if before != after:
        audit_record(
            actor=actor,
            organization=project.organization,
            project=project,
            action="connect_branding.updated",
            target=branding,
            before={k: v for k, v in before.items() if after.get(k) != v},
            after={k: v for k, v in after.items() if before.get(k) != v},
        )
    return branding


def _audit_view(branding: ConnectBranding) -> dict[str, Any]:
    return {
        "display_name": branding.display_name,
        "logo_sha256": branding.logo_sha256,
        "primary_color": branding.primary_color,
        "theme": branding.theme,
        "terms_url": branding.terms_url,
        "privacy_url": branding.privacy_url,
        "support_email": branding.support_email,
        "allowed_origins": list(branding.allowed_origins),
    }


def logo_bytes(sha256: str) -> bytes | None:
    """A logo by its digest (the same image of two projects is the same file)."""
    row = ConnectBranding.objects.filter(logo_sha256=sha256).only("logo").first()
    return bytes(row.logo) if row is not None else None


# --- The generated stylesheet ------------------------------------------------------------------


def _rgb(color: str) -> str:
    return ", ".join(str(int(color[i : i + 2], 16)) for i in (1, 3, 5))


def _shade(color: str, factor: float) -> str:
    return "#" + "".join(
        f"{max(0, min(255, round(int(color[i : i + 2], 16) * factor))):02x}" for i in (1, 3, 5)
    )


def theme_css(primary: str, theme: str, dark_vars: str) -> str:
    """The stylesheet of a hosted page (served as a file: the CSP allows no inline style)."""
    text = text_color_on(primary)
    hover = _shade(primary, 0.88)
    rules = [
        ":root, [data-bs-theme] {"
        f" --bs-primary: {primary}; --bs-primary-rgb: {_rgb(primary)};"
        f" --bs-focus-ring-color: rgba({_rgb(primary)}, .35);"
        f" --brand-primary: {primary}; --brand-on-primary: {text}; }}",
        ".btn-primary {"
        f" --bs-btn-bg: {primary}; --bs-btn-border-color: {primary}; --bs-btn-color: {text};"
        f" --bs-btn-hover-bg: {hover}; --bs-btn-hover-border-color: {hover};"
        f" --bs-btn-hover-color: {text}; --bs-btn-active-bg: {hover};"
        f" --bs-btn-active-border-color: {hover}; --bs-btn-active-color: {text};"
        f" --bs-btn-focus-shadow-rgb: {_rgb(primary)}; }}",
        ".form-control:focus, .form-select:focus, .form-check-input:focus {"
        f" border-color: {primary}; box-shadow: 0 0 0 .25rem rgba({_rgb(primary)}, .35); }}",
        "a:focus-visible, .btn:focus-visible, input:focus-visible, select:focus-visible {"
        f" outline: 3px solid {primary}; outline-offset: 2px; }}",
    ]
    if theme == Theme.AUTO and dark_vars:
        rules.append(f"@media (prefers-color-scheme: dark) {{ :root {{ {dark_vars} }} }}")
    return "\n".join(rules) + "\n"
