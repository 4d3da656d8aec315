"""What the projects app shows on the overview: recent publishes and pin changes (from the
audit log). Registered in ``ProjectsConfig.ready()``."""

from __future__ import annotations

from typing import Any

from .http import HtmxHttpRequest
from .permissions import ProjectAccess
from .selectors import recent_changes


def overview_changes(
    *, request: HtmxHttpRequest, access: ProjectAccess, **_: Any
) -> dict[str, Any]:
    entries = recent_changes(access.project)
    if not entries:
        return {}
    panel = {"template": "projects/_overview_changes.html", "order": 40, "entries": entries}
    return {"panels": [panel]}
