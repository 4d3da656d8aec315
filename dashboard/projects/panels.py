"""The projects app's part of the overview: recent publishes and pin changes (from the audit
log)."""

from __future__ import annotations

from typing import Any

from projects.http import HtmxHttpRequest
from projects.permissions import ProjectAccess
from projects.selectors import recent_changes


def overview_changes(
    *, request: HtmxHttpRequest, access: ProjectAccess, **_: Any
) -> dict[str, Any]:
    entries = recent_changes(access.project)
    if not entries:
        return {}
    panel = {
        "template": "dashboard/projects/_overview_changes.html",
        "order": 40,
        "entries": entries,
    }
    return {"panels": [panel]}
