"""A grant copies its connection's project, creation time and organization-level role
(ConnectionGrant.project, .connection_created_at, .connection_org_role), so that a member's
list orders and counts their granted connections from the grants alone. On PostgreSQL a
foreign key on (connection_id, project_id, connection_created_at, connection_org_role) to the
connection's (id, project_id, created_at, org_role), ON UPDATE CASCADE, keeps the copies equal
to the connection's values whatever changes them."""

from typing import Any

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery

FOREIGN_KEY = "grant_follows_connection"


def _fill(apps: Any, schema_editor: Any) -> None:
    grant_model = apps.get_model("connections", "ConnectionGrant")
    connection_model = apps.get_model("connections", "Connection")
    db = schema_editor.connection.alias
    of_connection = connection_model.objects.using(db).filter(pk=OuterRef("connection_id"))
    grant_model.objects.using(db).update(
        project_id=Subquery(of_connection.values("project_id")[:1]),
        connection_created_at=Subquery(of_connection.values("created_at")[:1]),
        connection_org_role=Subquery(of_connection.values("org_role")[:1]),
    )


def _follow(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"ALTER TABLE connections_connectiongrant ADD CONSTRAINT {FOREIGN_KEY} "
        "FOREIGN KEY (connection_id, project_id, connection_created_at, connection_org_role) "
        "REFERENCES connections_connection (id, project_id, created_at, org_role) "
        "ON UPDATE CASCADE ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED"
    )


def _unfollow(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"ALTER TABLE connections_connectiongrant DROP CONSTRAINT IF EXISTS {FOREIGN_KEY}"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0011_connection_count_health"),
        ("projects", "0005_user_preference"),
    ]

    operations = [
        migrations.AddField(
            model_name="connectiongrant",
            name="project",
            field=models.ForeignKey(
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="projects.project",
            ),
        ),
        migrations.AddField(
            model_name="connectiongrant",
            name="connection_created_at",
            field=models.DateTimeField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="connectiongrant",
            name="connection_org_role",
            field=models.CharField(blank=True, editable=False, max_length=8, default=""),
            preserve_default=False,
        ),
        migrations.RunPython(_fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="connectiongrant",
            name="project",
            field=models.ForeignKey(
                editable=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="projects.project",
            ),
        ),
        migrations.AlterField(
            model_name="connectiongrant",
            name="connection_created_at",
            field=models.DateTimeField(editable=False),
        ),
        migrations.AddConstraint(
            model_name="connection",
            constraint=models.UniqueConstraint(
                fields=("id", "project", "created_at", "org_role"),
                name="conn_id_project_created_role",
            ),
        ),
        migrations.RunPython(_follow, _unfollow),
    ]
