"""What the events app adds to the project overview (registered in ``EventsConfig.ready()``)."""

from __future__ import annotations

from typing import Any

from projects.permissions import ProjectAccess

from . import selectors


def overview(*, access: ProjectAccess, **_: Any) -> dict[str, Any]:
    """Failed deliveries and endpoints the platform disabled (the banner); nothing when the
    project has no endpoint, and for readers who may not open the webhook settings (owners
    and admins only)."""
    if not access.can_manage or not selectors.endpoints_of(access.project).exists():
        return {}
    panel = {
        "template": "dashboard/events/_overview_panel.html",
        "order": 60,
        "failed_deliveries": selectors.failed_deliveries_count(access.project),
        "disabled_by_platform": selectors.endpoints_disabled_by_platform(access.project),
    }
    return {"panels": [panel]}
