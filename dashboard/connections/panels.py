"""The connections app's parts of other pages, from its selectors: the connector and profile
pages' adoption chart and "Link account" panel, the profiles list's counts, the overview's
figures."""

from __future__ import annotations

from typing import Any

from connections import rbac, selectors
from connections.models import Health, Status
from connectors.models import Connector
from profiles.models import ConnectorProfile
from projects.http import HtmxHttpRequest
from projects.permissions import ProjectAccess

from . import links as link_views
from .charts import adoption_chart, daily_chart


def _viewer(request: HtmxHttpRequest, access: ProjectAccess) -> rbac.Viewer:
    return rbac.Viewer(request.user, access.membership)


def connector_panels(
    *,
    request: HtmxHttpRequest,
    access: ProjectAccess,
    connector: Connector,
    partial: bool = False,
    **_: Any,
) -> dict[str, Any]:
    """The adoption chart and the Link account panel (not for a swap of the versions table)."""
    if partial:
        return {}
    adoption = selectors.adoption(
        access.project, viewer=_viewer(request, access), connector_id=connector.pk
    )
    context: dict[str, Any] = {"adoption": adoption_chart(adoption)}
    if access.can_write:
        context["link_panel"] = link_views.connector_panel(access.project, connector)
    return context


def profile_panels(
    *, request: HtmxHttpRequest, access: ProjectAccess, profile: ConnectorProfile, **_: Any
) -> dict[str, Any]:
    adoption = selectors.adoption(
        profile.project, viewer=_viewer(request, access), profile_id=profile.pk
    )
    context: dict[str, Any] = {"adoption": adoption_chart(adoption)}
    if access.can_write:
        context["link_panel"] = link_views.profile_panel(access.project, profile)
    return context


def profile_counts(*, request: HtmxHttpRequest, access: ProjectAccess, **_: Any) -> dict[str, Any]:
    """Connections per profile among those the reader may see."""
    counts = selectors.counts_by_profile(access.project, _viewer(request, access))
    return {"connection_counts": counts}


def overview_connections(
    *, request: HtmxHttpRequest, access: ProjectAccess, **_: Any
) -> dict[str, Any]:
    """The overview's figures by status and health (each a link to the filtered list) and
    the latest failed health checks."""
    viewer = _viewer(request, access)
    counts = selectors.counts_by_status_and_health(access.project, viewer)
    total = counts["total"]["all"]
    if not total:
        return {}
    statuses = [(value, label, counts["status"].get(value, 0)) for value, label in Status.choices]
    healths = [(value, label, counts["health"].get(value, 0)) for value, label in Health.choices]
    figures = {
        "template": "dashboard/connections/_overview_counts.html",
        "order": 10,
        "total": total,
        "statuses": statuses,
        "healths": healths,
        "sees_all": viewer.sees_all,
    }
    panels = [figures]
    failures = selectors.recent_failures(access.project, viewer)
    if failures:
        panels.append(
            {
                "template": "dashboard/connections/_overview_failures.html",
                "order": 50,
                "rows": failures,
            }
        )
    reauth = selectors.needs_reauth_per_day(access.project, viewer)
    if reauth:
        panels.append(
            {
                "template": "dashboard/connections/_overview_reauth.html",
                "order": 45,
                "chart": daily_chart(reauth),
                "days": selectors.REAUTH_TREND_DAYS,
            }
        )
    return {"panels": panels}
