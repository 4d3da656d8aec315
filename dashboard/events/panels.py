"""The events app's part of the overview: failed deliveries, endpoints the platform disabled."""

from __future__ import annotations

from typing import Any

from events import selectors
from projects.permissions import ProjectAccess


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
