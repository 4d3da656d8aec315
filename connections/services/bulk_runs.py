"""A bulk action on every connection matching the list's filters ("select all N matching"):
started here, run by a background task in batches, its progress on a ``BulkRun`` row."""

from __future__ import annotations

from collections import Counter

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from core.forms import plural
from core.tasks import enqueue_on_commit
from projects.models import Project
from projects.permissions import get_membership
from projects.services import Actor, ServiceError

from .. import rbac, selectors
from ..models import BulkRun, Connection, Health
from . import health
from .connections import connections_bulk

MATCHING_ACTIONS = {"check_health": "Checked", "disable": "Disabled", "enable": "Enabled"}
RUN_BATCH = 200


def matching(
    viewer: rbac.Viewer, project: Project, filters: selectors.Filters
) -> QuerySet[Connection]:
    """The connections the viewer may see that match the list's filters."""
    return selectors.apply_filters(selectors.visible(viewer, project), filters)


@transaction.atomic
def bulk_run_start(
    *,
    actor: Actor,
    viewer: rbac.Viewer,
    project: Project,
    action: str,
    filters: selectors.Filters,
    query: str,
) -> BulkRun:
    """Start ``action`` on every connection ``filters`` match (``query``: the list's query
    string they came from, kept for the link back to the list); a task runs it."""
    if action not in MATCHING_ACTIONS:
        raise ServiceError(
            "Only Check health, Disable and Enable run on every matching connection; delete "
            "a page at a time.",
            field="action",
        )
    if actor.user is None:  # pragma: no cover - the dashboard always has a user
        raise ServiceError("A bulk run needs a dashboard user.")
    total = matching(viewer, project, filters).count()
    if not total:
        raise ServiceError("No connection matches these filters.")
    run = BulkRun.objects.create(
        project=project, user=actor.user, action=action, query=query, total=total
    )
    run_id = run.pk
    enqueue_on_commit("connections.tasks.run_bulk_action", run_id, filters.to_json())
    return run


def bulk_run_execute(*, run_id: int, filters: selectors.Filters) -> BulkRun:
    """Go through the matching connections in id order, a batch at a time, counting what was
    done and what the user may not change; then write the summary."""
    run = BulkRun.objects.select_related("project", "user").get(pk=run_id)
    membership = get_membership(run.user, run.project.organization_id)
    if membership is None:
        return _finish(run, "Stopped: you are no longer a member of this organization.")
    viewer = rbac.Viewer(run.user, membership)
    actor = Actor(user=run.user)
    rows = matching(viewer, run.project, filters).order_by("pk")
    tally: Counter[str] = Counter()
    left_alone = 0  # disabled: never checked
    last = 0
    while True:
        batch = list(rows.filter(pk__gt=last)[:RUN_BATCH])
        if not batch:
            break
        last = batch[-1].pk
        if run.action == "check_health":
            roles = rbac.roles(viewer, batch)
            writable = [c for c in batch if rbac.allows(roles[c.pk], rbac.ConnNeed.WRITE)]
            results = health.connections_check_health_bulk(actor=actor, connections=writable)
            checked = [r for r in results.values() if r.detail != health.DISABLED]
            left_alone += len(results) - len(checked)
            tally.update(r.status for r in checked)
            done, skipped = len(checked), len(batch) - len(writable)
            failed = sum(r.status in (Health.UNHEALTHY, Health.NEEDS_REAUTH) for r in checked)
        else:
            done, skipped = connections_bulk(
                actor=actor, viewer=viewer, connections=batch, action=run.action
            )
            failed = 0
        BulkRun.objects.filter(pk=run.pk).update(
            processed=F("processed") + len(batch),
            done=F("done") + done,
            skipped=F("skipped") + skipped,
            failed=F("failed") + failed,
        )
    run.refresh_from_db()
    summary = f"{MATCHING_ACTIONS[run.action]} {plural(run.done, 'connection')}"
    parts = [f"{tally[v]} {label.lower()}" for v, label in Health.choices if tally[v]]
    summary += f": {', '.join(parts)}." if parts else "."
    if left_alone:
        summary += f" Left {plural(left_alone, 'disabled connection')} alone (never checked)."
    if run.skipped:
        summary += f" Skipped {plural(run.skipped, 'connection')} you may not change."
    return _finish(run, summary)


def _finish(run: BulkRun, summary: str) -> BulkRun:
    run.summary = summary[:500]
    run.finished_at = timezone.now()
    run.processed = run.total  # rows deleted meanwhile count as gone through
    run.save(update_fields=["summary", "finished_at", "processed"])
    return run
