"""The hosted connect pages' Content Security Policy: served by ``connect/`` and by the
dashboard's preview of those pages (Settings → Connect pages), which must look the same."""

from __future__ import annotations

from django.utils.csp import CSP

HOSTED_CSP: dict[str, list[str]] = {
    "default-src": [CSP.NONE],
    "script-src": [CSP.NONE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "https:"],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
}
