"""Every event type of docs/api.md, emitted by the service that makes the change and delivered,
signed, to a real receiver on loopback (signatures verified with ``standardwebhooks``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import transaction
from django.test import Client

from connections import rbac
from connections.models import Connection, Status
from connections.services.connect import connect_session_create
from connections.services.connections import (
    connection_delete,
    connection_set_status,
    connections_bulk,
)
from connections.services.health import connection_check_health
from connections.services.pins import profile_set_pin
from connections.services.tokens import UpstreamError, connection_refresh_tokens
from connections.services.versions import connector_version_delete
from connectors.models import ConnectorVersion
from events.models import Delivery, DeliveryStatus, Event, WebhookEndpoint
from events.services import endpoint_create, endpoint_send_test, endpoint_update, event_record
from profiles.services import (
    connector_version_publish,
    connector_version_push,
    profile_create,
)
from projects.services import Actor
from rollouts.services import migration_complete, migration_create
from tests.conftest import Tenancy
from tests.factories import (
    connector_yaml,
    make_connection,
    make_profile,
    pin_profile,
    publish_version,
    update_connections,
)
from tests.provider import Answer, Provider, provider_server

from .receiver import Receiver

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
SECRET = "sk_live_EVENTS_0123456789"


@pytest.fixture
def provider() -> Any:
    with provider_server() as server:
        server.routes["/me"] = lambda seen: Answer(
            200 if seen.headers.get("Authorization") == f"Bearer {SECRET}" else 401
        )
        yield server


def _link(tenancy: Tenancy, profile: Any, **kw: Any) -> str:
    kw.setdefault("origin_owner_id", "cust-42")
    created = connect_session_create(
        actor=SYSTEM, project=tenancy.project, connector_profile_id=profile.public_id, **kw
    )
    return urlsplit(created.url).path


def test_hosted_page_connect_and_reauth_announce_created_updated_moved_status(
    tenancy: Tenancy,
    endpoint: WebhookEndpoint,
    receiver: Receiver,
    provider: Provider,
    run_tasks: Any,
) -> None:
    profile = make_profile(tenancy.project, base_url=provider.url, health_path="/me")
    with run_tasks():
        done = Client().post(_link(tenancy, profile), {"config_api_key": SECRET})
    assert done.status_code == 200
    connection = Connection.objects.get()
    [created] = receiver.of_type("connection.created")
    assert created["data"]["connection_id"] == str(connection.public_id)
    assert created["data"]["profile_id"] == str(profile.public_id)
    assert created["data"]["origin_owner_id"] == "cust-42"

    legacy = profile_create(
        actor=SYSTEM, project=tenancy.project, connector_key="acme_crm", name="next"
    )
    update_connections(Connection.objects.filter(pk=connection.pk), status=Status.NEEDS_REAUTH)
    with run_tasks():
        path = _link(tenancy, legacy, account_id=connection.public_id, origin_owner_id="")
        assert Client().post(path, {"config_api_key": SECRET}).status_code == 200
    [updated] = receiver.of_type("connection.updated")
    assert updated["data"]["reason"] == "reauthenticated"
    [moved] = receiver.of_type("connection.moved")
    assert moved["data"]["from_profile_id"] == str(profile.public_id)
    assert moved["data"]["to_profile_id"] == str(legacy.public_id)
    [status] = receiver.of_type("connection.status_changed")
    assert (status["data"]["previous_status"], status["data"]["status"]) == (
        "needs_reauth",
        "active",
    )
    bodies = " ".join(a.body for a in receiver.arrivals)
    assert SECRET not in bodies


def test_status_changes_and_health_announce_status_changed(
    tenancy: Tenancy,
    endpoint: WebhookEndpoint,
    receiver: Receiver,
    provider: Provider,
    run_tasks: Any,
) -> None:
    profile = make_profile(tenancy.project, base_url=provider.url, health_path="/me")
    connection = make_connection(profile, config={"api_key": "sk_wrong_000000000000"})
    with run_tasks():
        connection_set_status(actor=SYSTEM, connection=connection, status=Status.DISABLED)
        connection_set_status(actor=SYSTEM, connection=connection, status=Status.ACTIVE)
        connection_check_health(actor=SYSTEM, connection=connection)  # 401 → needs_reauth
    changes = [
        (p["data"]["previous_status"], p["data"]["status"])
        for p in receiver.of_type("connection.status_changed")
    ]
    assert sorted(changes) == sorted(
        [("active", "disabled"), ("disabled", "active"), ("active", "needs_reauth")]
    )


def test_refresh_failures_announce_refresh_failed(
    tenancy: Tenancy,
    endpoint: WebhookEndpoint,
    receiver: Receiver,
    provider: Provider,
    run_tasks: Any,
) -> None:
    profile = make_profile(
        tenancy.project,
        auth_type="oauth2",
        base_url=provider.url,
        token_url=provider.url + "/token",
        required_fields=(),
        setup_fields=("client_id", "client_secret"),
        setup={"client_id": "hub", "client_secret": "client-secret-0123456789"},
    )
    connection = make_connection(
        profile, config={}, tokens={"access_token": "at-secret-1", "refresh_token": "rt-secret-1"}
    )
    provider.routes["/token"] = Answer(503)
    with run_tasks(), pytest.raises(UpstreamError):
        connection_refresh_tokens(actor=SYSTEM, connection=connection)
    provider.routes["/token"] = Answer(400, {"error": "invalid_grant"})
    with run_tasks():
        connection_refresh_tokens(actor=SYSTEM, connection=connection)
    failures = receiver.of_type("connection.refresh_failed")
    assert [(f["data"]["reason"], f["data"]["retryable"]) for f in failures] == [
        ("provider_unavailable", True),
        ("invalid_grant", False),
    ]
    [status] = receiver.of_type("connection.status_changed")
    assert status["data"]["status"] == "needs_reauth"
    bodies = " ".join(a.body for a in receiver.arrivals)
    assert "rt-secret-1" not in bodies and "at-secret-1" not in bodies
    assert "client-secret-0123456789" not in bodies


def test_delete_and_bulk_delete_announce_one_event_per_connection(
    tenancy: Tenancy, endpoint: WebhookEndpoint, receiver: Receiver, run_tasks: Any
) -> None:
    profile = make_profile(tenancy.project)
    connections = [make_connection(profile) for _ in range(6)]
    with run_tasks():
        connection_delete(actor=SYSTEM, connection=connections[0])
        done, skipped = connections_bulk(
            actor=SYSTEM,
            viewer=rbac.Viewer(user=None, membership=None),
            connections=Connection.objects.filter(pk__in=[c.pk for c in connections[1:]]),
            action="delete",
        )
    assert (done, skipped) == (5, 0)
    deleted = receiver.of_type("connection.deleted")
    assert sorted(d["data"]["connection_id"] for d in deleted) == sorted(
        str(c.public_id) for c in connections
    )


def test_a_publish_moving_three_profiles_announces_three_resolution_changes(
    tenancy: Tenancy, endpoint: WebhookEndpoint, receiver: Receiver, run_tasks: Any
) -> None:
    project = tenancy.project
    publish_version(project, "1.0.0")
    publish_version(project, "2.0.0")
    moving = [
        pin_profile(project, name, pin)
        for name, pin in [("a", "1.x.x"), ("b", "1.0.x"), ("c", "1.x.x")]
    ]
    for name, pin in [("exact", "1.0.0"), ("two", "2.x.x"), ("default", None)]:
        pin_profile(project, name, pin)
    with run_tasks():
        publish_version(project, "1.0.1")
    changes = receiver.of_type("profile.resolution_changed")
    assert sorted(
        (d["profile_id"], d["from_version"], d["to_version"], d["cause"])
        for d in (c["data"] for c in changes)
    ) == sorted((str(p.public_id), "1.0.0", "1.0.1", "publish") for p in moving)
    [published] = receiver.of_type("version.published")
    assert published["data"]["version"] == "1.0.1" and published["data"]["builtin"] is False


def test_a_builtin_publish_moves_profiles_of_every_project(
    tenancy: Tenancy, endpoint: WebhookEndpoint, receiver: Receiver, run_tasks: Any
) -> None:
    publish_version(None, "1.0.0")
    mine = pin_profile(tenancy.project, "mine", "latest_builtin")
    theirs = pin_profile(tenancy.other_project, "theirs", "latest_builtin")
    with run_tasks():
        publish_version(None, "1.1.0")
    [change] = receiver.of_type("profile.resolution_changed")  # this project's endpoint only
    assert change["data"]["profile_id"] == str(mine.public_id)
    assert change["data"]["to_builtin"] is True
    other = Event.objects.get(project=tenancy.other_project, type="profile.resolution_changed")
    assert other.data["profile_id"] == str(theirs.public_id)
    assert receiver.of_type("version.published")[0]["data"]["owner"] == "platform"


def test_publish_draft_overwrite_unpublish_and_pin_change(
    tenancy: Tenancy, endpoint: WebhookEndpoint, receiver: Receiver, run_tasks: Any
) -> None:
    project = tenancy.project
    publish_version(project, "1.0.0")
    one = pin_profile(project, "one", "1.x.x")
    draft = publish_version(project, "1.1.0", draft=True)
    assert receiver.of_type("version.published") == []  # a draft is not published
    with run_tasks():
        connector_version_publish(actor=SYSTEM, version=draft)

    def moves() -> list[tuple[str, str, str]]:
        return [
            (c["data"]["from_version"], c["data"]["to_version"], c["data"]["cause"])
            for c in receiver.of_type("profile.resolution_changed")
        ]

    assert moves() == [("1.0.0", "1.1.0", "publish")]
    receiver.arrivals.clear()
    with run_tasks():
        profile_set_pin(actor=SYSTEM, profile=one, pin="1.0.0")
    assert moves() == [("1.1.0", "1.0.0", "pin_change")]
    receiver.arrivals.clear()
    # Overwrite (immutability off + force): the profile on 1.0.0 now gets other content.
    project.immutable_versioning = False
    project.save()
    with run_tasks():
        connector_version_push(
            actor=SYSTEM,
            project=project,
            files=[
                ("c.yaml", connector_yaml(version="1.0.0", base_url="https://api.other.example"))
            ],
            force=True,
            acknowledge_breaking=True,
        )
    assert moves() == [("1.0.0", "1.0.0", "overwrite")]
    assert receiver.of_type("version.published")[0]["data"]["overwritten"] is True
    receiver.arrivals.clear()
    # Unpublish: a version no profile resolves to goes (one in use is refused), nothing moves.
    with run_tasks():
        connector_version_delete(
            actor=SYSTEM, version=ConnectorVersion.objects.get(project=project, version="1.1.0")
        )
    assert moves() == []


def test_migration_completed_and_webhook_test(
    tenancy: Tenancy, endpoint: WebhookEndpoint, receiver: Receiver, run_tasks: Any
) -> None:
    old = make_profile(tenancy.project, name="old")
    new = pin_profile(tenancy.project, "new")
    migration = migration_create(
        actor=SYSTEM, project=tenancy.project, from_profile=old, to_profile=new, title="Move"
    )
    with run_tasks():
        migration_complete(actor=SYSTEM, migration=migration)
        endpoint_send_test(actor=SYSTEM, endpoint=endpoint)
    [done] = receiver.of_type("migration.completed")
    assert done["data"]["migration_id"] == str(migration.public_id)
    assert done["data"]["from_profile_id"] == str(old.public_id)
    [test] = receiver.of_type("webhook.test")
    assert test["data"]["endpoint_id"] == str(endpoint.public_id)


def test_a_rolled_back_change_announces_nothing(
    tenancy: Tenancy, endpoint: WebhookEndpoint, receiver: Receiver, run_tasks: Any
) -> None:
    profile = make_profile(tenancy.project)
    with run_tasks():
        try:
            with transaction.atomic():
                make_connection(profile, "rolled-back")
                raise RuntimeError("the caller fails after the change")
        except RuntimeError:
            pass
        make_connection(profile, "kept")
    assert Event.objects.filter(type="connection.created").count() == 1
    assert [p["data"]["origin_owner_id"] for p in receiver.of_type("connection.created")] == [
        "kept"
    ]


def test_the_filter_picks_endpoints_and_disabled_ones_get_nothing(
    tenancy: Tenancy, receiver: Receiver, run_tasks: Any
) -> None:
    _only_deleted, secret = endpoint_create(
        actor=SYSTEM, project=tenancy.project, url=receiver.url("/a"), events=["connection.deleted"]
    )
    off, secret2 = endpoint_create(
        actor=SYSTEM, project=tenancy.project, url=receiver.url("/b"), events=["*"]
    )
    receiver.secrets += [secret, secret2]
    endpoint_update(actor=SYSTEM, endpoint=off, enabled=False)
    foreign, _ = endpoint_create(
        actor=SYSTEM, project=tenancy.other_project, url=receiver.url("/c"), events=["*"]
    )
    profile = make_profile(tenancy.project)
    with run_tasks():
        connection = make_connection(profile)
        connection_delete(actor=SYSTEM, connection=connection)
    assert [(a.path, a.type) for a in receiver.verified()] == [("/a", "connection.deleted")]
    assert Delivery.objects.filter(endpoint__in=[off, foreign]).count() == 0
    assert Delivery.objects.get().status == DeliveryStatus.SUCCEEDED


def test_event_record_refuses_an_unknown_type(tenancy: Tenancy) -> None:
    with pytest.raises(ValueError, match="Unknown event type"):
        event_record(project=tenancy.project, type="connection.exploded", data={})
    assert not Event.objects.exists()
