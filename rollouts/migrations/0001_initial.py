"""ProfileMigration and MigrationNotice, moved here from the profiles app.

The tables keep their names (``profiles_profilemigration``, ``profiles_migrationnotice``) and
their rows: the models are created in the migration state only. Their content types move
with them, so admin permissions and log entries keep pointing at the same rows.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

MOVED = ("profilemigration", "migrationnotice")


def move_content_types(apps, schema_editor, *, source="profiles", target="rollouts"):
    content_types = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in MOVED:
        # A type created for the target already (an earlier run) would collide: keep one.
        content_types.objects.using(db).filter(app_label=target, model=model).delete()
        content_types.objects.using(db).filter(app_label=source, model=model).update(
            app_label=target
        )


def move_content_types_back(apps, schema_editor):
    move_content_types(apps, schema_editor, source="rollouts", target="profiles")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("connections", "0004_conn_moved_from"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("profiles", "0004_move_profile_migrations_to_rollouts"),
        ("projects", "0002_audit_target_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ProfileMigration",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("title", models.CharField(max_length=200)),
                        (
                            "message",
                            models.TextField(
                                blank=True, help_text="Shown to end users in the notice email."
                            ),
                        ),
                        ("deadline", models.DateTimeField(blank=True, null=True)),
                        ("created_by_label", models.CharField(blank=True, max_length=200)),
                        ("started_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("completed_at", models.DateTimeField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "from_profile",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="migrations_out",
                                to="profiles.connectorprofile",
                            ),
                        ),
                        (
                            "project",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="profile_migrations",
                                to="projects.project",
                            ),
                        ),
                        (
                            "to_profile",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="migrations_in",
                                to="profiles.connectorprofile",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "profiles_profilemigration",
                        "ordering": ["-started_at", "-id"],
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(
                                    ("from_profile", models.F("to_profile")), _negated=True
                                ),
                                name="migration_two_profiles",
                            ),
                            models.UniqueConstraint(
                                condition=models.Q(("completed_at__isnull", True)),
                                fields=("from_profile",),
                                name="migration_one_open_per_profile",
                            ),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="MigrationNotice",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("link_token", models.TextField(blank=True, default="", editable=False)),
                        ("link_expires_at", models.DateTimeField(blank=True, null=True)),
                        ("notices_sent", models.PositiveIntegerField(default=0)),
                        ("last_sent_at", models.DateTimeField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "connection",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="migration_notices",
                                to="connections.connection",
                            ),
                        ),
                        (
                            "migration",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="notices",
                                to="rollouts.profilemigration",
                            ),
                        ),
                        (
                            "session",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="connections.connectsession",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "profiles_migrationnotice",
                        "indexes": [
                            models.Index(fields=["migration", "last_sent_at"], name="notice_sent"),
                            models.Index(
                                condition=models.Q(("notices_sent__gt", 0)),
                                fields=["migration", "connection"],
                                name="notice_sent_accounts",
                            ),
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("migration", "connection"), name="notice_one_per_account"
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
