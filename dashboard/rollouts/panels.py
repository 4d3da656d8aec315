"""The rollouts app's parts of other pages, from its selectors: the profile page's migration
banners and offer, the version page's "migrate" offer, the connection page's migration line,
the overview's open migrations."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from connections.models import Connection
from connectors.models import ConnectorVersion
from profiles.models import ConnectorProfile
from projects.permissions import ProjectAccess
from rollouts import gate as gates
from rollouts import selectors as sel

from .charts import progress_bar


def profile_banners(
    *, access: ProjectAccess, profile: ConnectorProfile, version: ConnectorVersion | None, **_: Any
) -> dict[str, Any]:
    """The profile page's migration banners and the "start migration" offer. Pending counts
    only for admins (others may not see every connection); the offer only for admins."""
    out = sel.open_migration_from(profile.pk)
    into = sel.open_migration_into(profile)
    context: dict[str, Any] = {"migration_out": out, "migration_in": into}
    if out is not None and access.can_manage:
        context["migration_out_pending"] = sel.progress(out).pending
    if access.can_manage and out is None and version is not None:
        offer = sel.offer_version(profile.project, profile.connector_id, version.major)
        if offer is not None:
            url = reverse(
                "migration_start", args=[profile.project.slug, offer.connector.key, offer.pk]
            )
            context["migration_offer"] = {
                "version": offer,
                "major": offer.major,
                "url": f"{url}?from_profile={profile.public_id}",
            }
    return context


def connector_migrations(
    *, access: ProjectAccess, connector: Any, partial: bool = False, **_: Any
) -> dict[str, Any]:
    """The connector page's Link account panel warns about profiles being migrated away from."""
    if partial:
        return {}
    away = sel.migrating_away(access.project.pk, connector.pk)
    return {"migrating_away": {m.from_profile.public_id: m for m in away.values()} if away else {}}


def overview_migrations(*, access: ProjectAccess, **_: Any) -> dict[str, Any]:
    """The overview's open migrations with their progress (admins: migrations are theirs)."""
    if not access.can_manage:
        return {}
    migrations = [m for m in sel.migrations_of(access.project).filter(completed_at__isnull=True)]
    if not migrations:
        return {}
    progress = sel.progress_many(migrations)
    rows = [
        (
            m,
            progress[m.pk],
            progress_bar(progress[m.pk].migrated, progress[m.pk].total, progress[m.pk].percent),
        )
        for m in migrations
    ]
    return {
        "panels": [{"template": "dashboard/rollouts/_overview.html", "order": 20, "rows": rows}]
    }


def version_offer(*, access: ProjectAccess, version: ConnectorVersion, **_: Any) -> dict[str, Any]:
    """The version page's offer, when the version is published, says connections must
    re-authenticate, and profiles of this project are on an older major."""
    if not (access.can_manage and version.reauth_required and not version.is_draft):
        return {"migration_offer": None}
    candidates = sel.candidates_for(access.project, version)
    older = [c for c in candidates if sel.on_older_major(c, version) and not c.busy]
    if not older:
        return {"migration_offer": None}
    url = reverse("migration_start", args=[access.project.slug, version.connector.key, version.pk])
    if len(older) == 1:
        url += f"?from_profile={older[0].profile.public_id}"
    offer = {"major": version.major, "url": url, "profiles": [c.profile for c in older]}
    return {"migration_offer": offer}


def connection_migration(*, connection: Connection, **_: Any) -> dict[str, Any]:
    """The connection page's migration line: pending (with its last notice) or migrated."""
    found = sel.migration_for_connection(connection)
    if found is None:
        return {"migration": None}
    state, migration = found
    notice = sel.notice_of(migration, connection) if state == "pending" else None
    return {"migration": {"state": state, "migration": migration, "notice": notice}}


def overview_rollouts(*, access: ProjectAccess, **_: Any) -> dict[str, Any]:
    """The overview's running and paused staged rollouts (one query, whatever their number)."""
    rollouts = gates.active_rollouts(access.project)
    if not rollouts:
        return {}
    rows = [
        {
            "profile_id": r.profile.public_id,
            "profile": r.profile.name,
            "connector": r.profile.connector.key,
            "from_version": r.from_version.version,
            "to_version": r.to_version.version,
            "percent": r.percent,
            "state": r.state,
            "reason": r.get_pause_reason_display().lower() if r.pause_reason else "",
        }
        for r in rollouts
    ]
    return {
        "panels": [
            {"template": "dashboard/rollouts/_overview_rollouts.html", "order": 19, "rows": rows}
        ]
    }
