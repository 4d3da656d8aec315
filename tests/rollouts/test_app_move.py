"""The move of ProfileMigration and MigrationNotice from the profiles app to rollouts keeps
every row: the tables keep their names and the content types move with the models."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from profiles.services import profile_create
from projects.selectors import audited_target_types
from projects.services import Actor
from rollouts.models import MigrationNotice, ProfileMigration
from rollouts.services import migration_create, migration_link
from tests.factories import make_connection, make_profile, make_project

BEFORE = [("profiles", "0003_notice_sent_accounts")]


def _migrate(targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection)


@pytest.mark.django_db(transaction=True)
def test_rows_survive_the_move_both_ways() -> None:
    project = make_project()
    old = make_profile(project, "acme_crm", "v1", version="1.0.0", pin="1.x.x")
    new = profile_create(
        actor=Actor.system(), project=project, connector_key="acme_crm", name="v1b", pin="1.0.0"
    )
    account = make_connection(old, "u1", email="u1@x.example")
    migration = migration_create(
        actor=Actor.system(), project=project, from_profile=old, to_profile=new, title="Move"
    )
    notice, _url = migration_link(actor=Actor.system(), migration=migration, connection=account)
    content_type = ContentType.objects.get_for_model(ProfileMigration)
    assert (content_type.app_label, content_type.model) == ("rollouts", "profilemigration")
    assert ProfileMigration._meta.db_table == "profiles_profilemigration"
    ContentType.objects.clear_cache()

    try:
        executor = _migrate(BEFORE)
        state = executor.loader.project_state(BEFORE).apps
        OldMigration = state.get_model("profiles", "ProfileMigration")
        OldNotice = state.get_model("profiles", "MigrationNotice")
        assert list(OldMigration.objects.values_list("pk", "title")) == [(migration.pk, "Move")]
        assert list(OldNotice.objects.values_list("pk", "connection_id")) == [
            (notice.pk, account.pk)
        ]
        labels = set(
            ContentType.objects.filter(pk=content_type.pk).values_list("app_label", flat=True)
        )
        assert labels == {"profiles"}
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())  # the newest state
        ContentType.objects.clear_cache()

    moved = ProfileMigration.objects.get()
    assert (moved.pk, moved.title, moved.from_profile_id, moved.to_profile_id) == (
        migration.pk,
        "Move",
        old.pk,
        new.pk,
    )
    assert moved.started_at <= timezone.now()
    assert list(MigrationNotice.objects.values_list("pk", "migration_id", "connection_id")) == [
        (notice.pk, migration.pk, account.pk)
    ]
    assert ContentType.objects.get(pk=content_type.pk).app_label == "rollouts"
    assert not ContentType.objects.filter(app_label="profiles", model="profilemigration").exists()


def test_the_audit_filter_offers_the_moved_models() -> None:
    """The audit log's Target filter lists every app's models, rollouts' included."""
    types = audited_target_types()
    assert {"profilemigration", "migrationnotice", "connection", "connectorprofile"} <= set(types)
    assert "auditentry" not in types and "user" not in types
