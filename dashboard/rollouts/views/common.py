"""What every migration page shares: the access check and the deadline countdown.

Migrations are an admin job: every page and action needs ``Need.MANAGE``. Reconnect links
are shown to admins on purpose (they are the product); every page that may show one is
``Cache-Control: no-store``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from django.http import Http404
from django.utils import timezone

from core.forms import plural
from projects.http import HtmxHttpRequest
from projects.permissions import Need, ProjectAccess, get_project_for_user
from rollouts import selectors as sel
from rollouts.models import ProfileMigration


def get_migration_for_user(
    request: HtmxHttpRequest, project_slug: str, migration_id: UUID
) -> tuple[ProjectAccess, ProfileMigration]:
    access = get_project_for_user(request.user, project_slug, need=Need.MANAGE)
    migration = sel.migration_of(access.project, migration_id)
    if migration is None:
        raise Http404("No such migration.")
    migration.project = access.project
    return access, migration


def countdown(migration: ProfileMigration, now: datetime | None = None) -> tuple[str, bool]:
    """("in 5 days" | "overdue by 2 days" | "", overdue?) for the deadline: whole calendar
    days in the current time zone, hours on the day itself."""
    now = now or timezone.now()
    left = sel.deadline_left(migration, now)
    if left is None or migration.deadline is None:
        return "", False
    overdue = left < timedelta(0)
    days = (timezone.localdate(migration.deadline) - timezone.localdate(now)).days
    if days:
        span = plural(abs(days), "day")
    else:
        hours = int(abs(left.total_seconds()) // 3600)
        span = plural(hours, "hour") if hours else "less than an hour"
    return (f"overdue by {span}" if overdue else f"in {span}"), overdue
