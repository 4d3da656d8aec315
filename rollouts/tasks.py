"""Background and scheduled tasks (Django's tasks framework; django-crontask enqueues the
scheduled ones): reconnect emails for a profile migration, the staged rollouts' gate every
minute, migration deadlines and reminders."""

from __future__ import annotations

import logging
import smtplib

from apscheduler.triggers.interval import IntervalTrigger
from crontask import cron
from django.conf import settings
from django.core.mail import EmailMessage
from django.tasks import task
from django.template.loader import render_to_string
from django.utils import translation

from connections.services.connections import resolved_version
from core.validation import email_problem
from projects.services import Actor, ServiceError

from . import selectors as migration_selectors
from . import services as migration_services
from .models import ProfileMigration
from .services import deadlines, staged

logger = logging.getLogger(__name__)


def _connector_title(migration: ProfileMigration) -> str:
    """The connector's title as the new profile's version words it (custom connectors have
    their own)."""
    profile = migration.to_profile
    try:
        return resolved_version(profile).title
    except ServiceError:  # a profile that resolves to nothing: fall back to the connector
        return str(profile.connector.title or profile.connector.key)


@task()
def send_migration_notices(
    migration_id: int, connection_ids: list[int], actor_label: str, run_id: int | None = None
) -> int:
    """See ``_send``; the batch then counts as done in its notice run (sent or not)."""
    sent = 0
    try:
        sent = _send(migration_id, connection_ids, actor_label)
    finally:
        if run_id is not None:
            migration_services.notice_run_advance(
                run_id=run_id, processed=len(connection_ids), sent=sent
            )
    return sent


def _send(migration_id: int, connection_ids: list[int], actor_label: str) -> int:
    """One email per account still pending, each with its own single-use reconnect link;
    returns how many were sent. Accounts that moved meanwhile, or have no email, are skipped;
    so is an address that is not one (stored before the input boundary checked it) or that the
    mail server refuses: it is logged (by connection id) and the rest of the batch still goes."""
    migration = migration_selectors.open_migration(migration_id)
    if migration is None:
        return 0
    actor = Actor()
    sent = 0
    connector_title = _connector_title(migration)
    rows = migration_selectors.pending_among(migration, connection_ids)
    for connection in rows:
        if not connection.email:
            continue
        if email_problem(connection.email) is not None:
            logger.warning(
                "migration %s: connection %s has no valid email address; no notice sent",
                migration_id,
                connection.pk,
            )
            continue
        notice, url = migration_services.migration_link(
            actor=actor, migration=migration, connection=connection
        )
        context = {
            "migration": migration,
            "connection": connection,
            "url": url,
            "expires_at": notice.link_expires_at,
            "connector_title": connector_title,
        }
        try:
            # In the language the end user last connected in (the link's session has it).
            with translation.override(notice.session.locale if notice.session else None):
                subject = render_to_string("rollouts/email/reconnect_subject.txt", context)
                body = render_to_string("rollouts/email/reconnect_body.txt", context)
            EmailMessage(subject=subject.strip(), body=body, to=[connection.email]).send()
        except (ValueError, smtplib.SMTPRecipientsRefused) as exc:
            logger.warning(
                "migration %s: the notice to connection %s was refused (%s)",
                migration_id,
                connection.pk,
                type(exc).__name__,
            )
            continue
        migration_services.migration_notice_sent(notice_id=notice.pk)
        sent += 1
    logger.info("migration %s: %s reconnect email(s) sent (%s)", migration_id, sent, actor_label)
    return sent


@task()
def evaluate_rollouts() -> list[str]:
    """The gate of every running rollout, acted on (rollouts.services.staged)."""
    return [evaluation.line() for evaluation in staged.rollouts_evaluate()]


if settings.SCHEDULE_ROLLOUTS_SECONDS > 0:
    cron(IntervalTrigger(seconds=settings.SCHEDULE_ROLLOUTS_SECONDS, jitter=5))(evaluate_rollouts)


@task()
def run_migration_deadlines() -> dict[str, int]:
    """Reminders due today and actions at deadlines (rollouts.services.deadlines)."""
    run = deadlines.migration_deadlines_run()
    return {"reminded": run.reminded, "disabled": run.disabled}


if settings.SCHEDULE_MIGRATION_DEADLINES_SECONDS > 0:
    cron(IntervalTrigger(seconds=settings.SCHEDULE_MIGRATION_DEADLINES_SECONDS, jitter=5))(
        run_migration_deadlines
    )
