from typing import Any

from django.http import HttpRequest

from projects.preferences import COMMON_TIME_ZONES, DEFAULT_TIME_ZONE
from projects.selectors import switcher_projects


def navigation(request: HttpRequest) -> dict[str, Any]:
    """The project switcher: the user's projects (read by the project lookup of a project
    page, else one query, lazily evaluated)."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {
        "switcher_projects": switcher_projects(request.user),
        "user_time_zone": getattr(request, "time_zone_name", DEFAULT_TIME_ZONE),
        "common_time_zones": COMMON_TIME_ZONES,
    }
