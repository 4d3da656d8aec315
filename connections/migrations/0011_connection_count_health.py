"""The connection counters count by health too (the overview's health figures, the list's
health filter): one counter per (profile, resolved version, status, health), rebuilt from the
rows here."""

from typing import Any

from django.db import migrations, models
from django.db.models import Count


def _rebuild(apps: Any, schema_editor: Any, *, by_health: bool) -> None:
    connection_model = apps.get_model("connections", "Connection")
    count_model = apps.get_model("connections", "ConnectionCount")
    db = schema_editor.connection.alias
    count_model.objects.using(db).all().delete()
    key = ["profile_id", "resolved_version_id", "status", "project_id", "connector_id"]
    groups = (
        connection_model.objects.using(db)
        .order_by()
        .values(*key, *(["health"] if by_health else []))
        .annotate(n=Count("pk"))
    )
    count_model.objects.using(db).bulk_create(
        (
            count_model(
                profile_id=g["profile_id"],
                version_pk=g["resolved_version_id"] or 0,
                status=g["status"],
                health=g.get("health", "unknown"),
                project_id=g["project_id"],
                connector_id=g["connector_id"],
                n=g["n"],
            )
            for g in groups
        ),
        batch_size=1000,
    )
    if schema_editor.connection.vendor == "postgresql":
        # Check the new rows' deferred foreign keys now: no ALTER TABLE of this migration may
        # run while their trigger events are pending (backwards, the ALTERs come after this).
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def recount(apps: Any, schema_editor: Any) -> None:
    _rebuild(apps, schema_editor, by_health=True)


def recount_without_health(apps: Any, schema_editor: Any) -> None:
    """Backwards: one counter per (profile, version, status) again, before the column goes."""
    _rebuild(apps, schema_editor, by_health=False)


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0010_connection_sort_last_used_checked"),
        ("connectors", "0001_initial"),
        ("profiles", "0005_public_ids"),
        ("projects", "0005_user_preference"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="connectioncount", name="connection_count_key"),
        migrations.AddField(
            model_name="connectioncount",
            name="health",
            field=models.CharField(
                choices=[
                    ("unknown", "Not checked"),
                    ("healthy", "Healthy"),
                    ("unhealthy", "Unhealthy"),
                    ("needs_reauth", "Needs re-authentication"),
                ],
                default="unknown",
                max_length=16,
            ),
        ),
        migrations.AddConstraint(
            model_name="connectioncount",
            constraint=models.UniqueConstraint(
                fields=("profile", "version_pk", "status", "health"),
                name="connection_count_key_health",
            ),
        ),
        migrations.AddConstraint(
            model_name="connectioncount",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("health__in", ["unknown", "healthy", "unhealthy", "needs_reauth"])
                ),
                name="connection_count_health_valid",
            ),
        ),
        # Every existing counter is unique under the new key (its health is the default).
        migrations.RunPython(recount, recount_without_health, elidable=True),
    ]
