"""Profile migrations: creation rules, progress, reconnect links, notices (one email per
account, each with its own single-use link), completion."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from connections.models import Connection, ConnectSession
from connectors.models import ConnectorVersion
from profiles.models import ConnectorProfile
from profiles.services import profile_create
from projects.crypto import decrypt_json
from projects.services import Actor, ConflictError, ServiceError
from rollouts import selectors as sel
from rollouts.models import MigrationNotice
from rollouts.services import (
    migration_complete,
    migration_create,
    migration_link,
    migration_notify,
    migration_start_with_new_profile,
)
from tests.factories import make_connection, make_profile, make_project, update_connections

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


@pytest.fixture
def world() -> dict[str, Any]:
    project = make_project()
    old = make_profile(
        project,
        "acme_crm",
        "v1",
        version="1.0.0",
        pin="1.x.x",
        setup_fields=("client_id", "client_secret"),
        setup={"client_id": "cid", "client_secret": "csecret-123456789"},
    )
    new = profile_create(
        actor=SYSTEM, project=project, connector_key="acme_crm", name="v1b", pin="1.0.0"
    )
    accounts = [make_connection(old, f"u{n}", email=f"u{n}@x.example") for n in range(4)]
    return {"project": project, "old": old, "new": new, "accounts": accounts}


def start(world: dict[str, Any], **kw: Any) -> Any:
    return migration_create(
        actor=SYSTEM,
        project=world["project"],
        from_profile=world["old"],
        to_profile=world["new"],
        title="Move to v1b",
        **kw,
    )


def test_create_rules(world: dict[str, Any]) -> None:
    other_connector = make_profile(world["project"], "other_crm", "o")
    with pytest.raises(ServiceError, match="same connector"):
        migration_create(
            actor=SYSTEM,
            project=world["project"],
            from_profile=world["old"],
            to_profile=other_connector,
            title="x",
        )
    elsewhere = make_profile(make_project(), "acme_crm", "theirs")
    with pytest.raises(ServiceError, match="this project"):
        migration_create(
            actor=SYSTEM,
            project=world["project"],
            from_profile=world["old"],
            to_profile=elsewhere,
            title="x",
        )
    with pytest.raises(ServiceError):
        migration_create(
            actor=SYSTEM,
            project=world["project"],
            from_profile=world["old"],
            to_profile=world["old"],
            title="x",
        )
    start(world)
    with pytest.raises(ConflictError):
        start(world)


def test_progress_counts_moves_since_the_start(world: dict[str, Any]) -> None:
    migration = start(world)
    assert sel.progress(migration) == sel.Progress(pending=4, migrated=0)
    a, b = world["accounts"][:2]
    update_connections(
        Connection.objects.filter(pk__in=[a.pk, b.pk]),
        profile=world["new"],
        moved_from_profile=world["old"],
        moved_at=timezone.now(),
    )
    # A raw update bypasses the re-authentication that clears the cached figures.
    assert sel.progress(migration) == sel.Progress(pending=4, migrated=0)
    sel.forget_progress(from_profile_id=world["old"].pk)
    progress = sel.progress(migration)
    assert (progress.pending, progress.migrated, progress.percent) == (2, 2, 50.0)
    assert sel.progress_many([migration])[migration.pk] == progress
    assert sel.daily_migrated(migration)[-1][1] == 2
    assert sel.migration_for_connection(Connection.objects.get(pk=a.pk)) == ("migrated", migration)
    assert sel.migration_for_connection(world["accounts"][3]) == ("pending", migration)


def test_a_connection_made_or_deleted_on_the_profile_shows_at_once(
    world: dict[str, Any],
) -> None:
    """The cached figures carry the generation of the from-profile's connections
    (connections.cache): a connection created or deleted there bumps it, no signal needed."""
    from connections.services.connections import connection_delete

    migration = start(world)
    assert sel.progress(migration) == sel.Progress(pending=4, migrated=0)
    added = make_connection(world["old"], "u-late")
    assert sel.progress(migration) == sel.Progress(pending=5, migrated=0)
    connection_delete(actor=SYSTEM, connection=added)
    connection_delete(actor=SYSTEM, connection=world["accounts"][0])
    assert sel.progress(migration) == sel.Progress(pending=3, migrated=0)
    assert sel.daily_migrated(migration)[-1][1] == 0


def test_links_are_reused_while_valid(world: dict[str, Any]) -> None:
    migration = start(world)
    account = world["accounts"][0]
    _notice, url = migration_link(actor=SYSTEM, migration=migration, connection=account)
    _again, url2 = migration_link(actor=SYSTEM, migration=migration, connection=account)
    assert url == url2 and ConnectSession.objects.count() == 1
    session = ConnectSession.objects.get()
    assert session.account_id == account.pk and session.profile_id == world["new"].pk
    ConnectSession.objects.update(used_at=timezone.now())
    _n, url3 = migration_link(actor=SYSTEM, migration=migration, connection=account)
    assert url3 != url and ConnectSession.objects.count() == 2
    assert MigrationNotice.objects.count() == 1


def test_notices_one_email_per_account_with_working_links(
    world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    migration = start(world, message="We moved to a new app.")
    chosen = [a.public_id for a in world["accounts"][:3]]

    def notify(ids: list[UUID] | None) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return migration_notify(actor=SYSTEM, migration=migration, connection_ids=ids)

    assert notify(chosen) == 3
    assert len(mail.outbox) == 3
    assert sorted(m.to[0] for m in mail.outbox) == ["u0@x.example", "u1@x.example", "u2@x.example"]
    urls = [
        next(line for line in m.body.splitlines() if "/connect/" in line).strip()
        for m in mail.outbox
    ]
    assert len(set(urls)) == 3
    assert "We moved to a new app." in mail.outbox[0].body
    assert "your Acme CRM account" in mail.outbox[0].subject
    page = Client().get(urlsplit(urls[0]).path)
    assert page.status_code == 200 and b"Reconnect" in page.content
    notices = MigrationNotice.objects.filter(migration=migration)
    assert sorted(notices.values_list("notices_sent", flat=True)) == [1, 1, 1]
    # Re-sending: tracking updated, still-valid links reused.
    mail.outbox.clear()
    notify(chosen)
    assert len(mail.outbox) == 3
    again = [
        next(line for line in m.body.splitlines() if "/connect/" in line).strip()
        for m in mail.outbox
    ]
    assert sorted(again) == sorted(urls)
    assert sorted(notices.values_list("notices_sent", flat=True)) == [2, 2, 2]
    assert ConnectSession.objects.count() == 3
    # All pending: the fourth too; accounts of another profile never.
    mail.outbox.clear()
    assert notify(None) == 4
    assert len(mail.outbox) == 4


def test_reauth_through_the_link_turns_pending_into_migrated(world: dict[str, Any]) -> None:
    migration = start(world)
    account = world["accounts"][0]
    _notice, url = migration_link(actor=SYSTEM, migration=migration, connection=account)
    done = Client().post(urlsplit(url).path, {"config_api_key": "sk_new_0123456789abc"})
    assert done.status_code == 200, done.content
    assert sel.progress(migration) == sel.Progress(pending=3, migrated=1)
    account.refresh_from_db()
    assert account.profile_id == world["new"].pk
    assert decrypt_json(account.config_secrets) == {"api_key": "sk_new_0123456789abc"}


def test_complete_stops_notices(world: dict[str, Any]) -> None:
    migration = start(world)
    migration_complete(actor=SYSTEM, migration=migration)
    with pytest.raises(ServiceError):
        migration_notify(actor=SYSTEM, migration=migration)
    start(world)  # a new one may start now


def test_start_with_new_profile_copies_setup(world: dict[str, Any]) -> None:
    from profiles.services import connector_version_push
    from tests.factories import connector_yaml

    connector_version_push(
        actor=SYSTEM,
        project=world["project"],
        acknowledge_breaking=True,
        files=[
            (
                "c.yaml",
                connector_yaml(
                    version="2.0.0",
                    auth_type="oauth2",
                    setup_fields=("client_id", "client_secret", "tenant"),
                ),
            )
        ],
    )
    version = ConnectorVersion.objects.get(project=world["project"], version="2.0.0")
    with pytest.raises(ServiceError, match="Tenant"):
        migration_start_with_new_profile(
            actor=SYSTEM,
            project=world["project"],
            version=version,
            from_profile=world["old"],
            profile_name="v2",
            setup={},
            title="To 2.x",
        )
    assert not ConnectorProfile.objects.filter(name="v2").exists()
    migration = migration_start_with_new_profile(
        actor=SYSTEM,
        project=world["project"],
        version=version,
        from_profile=world["old"],
        profile_name="v2",
        setup={"tenant": "acme"},
        title="To 2.x",
        deadline=timezone.now() + timedelta(days=14),
    )
    new = migration.to_profile
    assert new.pin == "2.x.x" and new.setup_values == {"client_id": "cid", "tenant": "acme"}
    assert decrypt_json(new.setup_secrets) == {"client_secret": "csecret-123456789"}


def test_the_notice_speaks_the_language_the_account_was_connected_in(
    world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    german, english = world["accounts"][:2]
    ConnectSession.objects.create(
        project=world["project"],
        profile=world["old"],
        token_hash="d" * 64,
        origin_owner_id=german.origin_owner_id,
        expires_at=timezone.now(),
        used_at=timezone.now(),
        connection=german,
        locale="de",
    )
    migration = start(world)
    with django_capture_on_commit_callbacks(execute=True):
        migration_notify(
            actor=SYSTEM, migration=migration, connection_ids=[german.public_id, english.public_id]
        )
    by_to = {m.to[0]: m for m in mail.outbox}
    de, en = by_to[german.email], by_to[english.email]
    assert de.subject == "Move to v1b: Bitte verbinden Sie Ihr Acme CRM-Konto erneut"
    assert "Hier erneut verbinden" in de.body and "Vielen Dank," in de.body
    assert "your Acme CRM account" in en.subject and "Reconnect here" in en.body
    url = next(line for line in de.body.splitlines() if "/connect/" in line).strip()
    page = Client().get(urlsplit(url).path).content.decode()
    assert "Acme CRM erneut verbinden" in page
