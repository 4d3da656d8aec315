"""The public-id migrations give rows that existed before them a distinct uuid4 each, and can
be unapplied and applied again."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from connections.models import Connection
from profiles.models import ConnectorProfile
from profiles.services import profile_create
from projects.models import Membership, Team
from projects.services import Actor
from rollouts.models import ProfileMigration
from rollouts.services import migration_create
from tests.factories import make_connection, make_member, make_profile, make_project, make_team

BEFORE = [
    ("projects", "0002_audit_target_index"),
    ("profiles", "0004_move_profile_migrations_to_rollouts"),
    ("connections", "0004_conn_moved_from"),
    ("rollouts", "0001_initial"),
]
MODELS: list[Any] = [Membership, Team, ConnectorProfile, Connection, ProfileMigration]


def _migrate(targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection)


@pytest.mark.django_db(transaction=True)
def test_existing_rows_get_distinct_uuids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("core.public_ids.BATCH", 2)  # several batches with few rows
    project = make_project()
    make_member(project.organization)
    make_member(project.organization)
    make_team(project.organization, "Support")
    old = make_profile(project, "acme_crm", "v1", version="1.0.0", pin="1.x.x")
    new = profile_create(
        actor=Actor.system(), project=project, connector_key="acme_crm", name="v2", pin="1.0.0"
    )
    for n in range(5):
        make_connection(old, f"u{n}")
    migration_create(
        actor=Actor.system(), project=project, from_profile=old, to_profile=new, title="Move"
    )
    counts = {model: model.objects.count() for model in MODELS}

    try:
        executor = _migrate(BEFORE)
        state = executor.loader.project_state(BEFORE).apps
        old_connection = state.get_model("connections", "Connection")
        assert "public_id" not in {f.name for f in old_connection._meta.get_fields()}
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())  # the newest state

    for model, count in counts.items():
        ids = list(model.objects.values_list("public_id", flat=True))
        assert len(ids) == count
        assert all(isinstance(i, uuid.UUID) and i.version == 4 for i in ids), model
        assert len(set(ids)) == count, model
    duplicate = Connection.objects.first()
    other = Connection.objects.last()
    assert duplicate is not None and other is not None and duplicate.pk != other.pk
    with pytest.raises(IntegrityError), transaction.atomic():
        Connection.objects.filter(pk=other.pk).update(public_id=duplicate.public_id)
