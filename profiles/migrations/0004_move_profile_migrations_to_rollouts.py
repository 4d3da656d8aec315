"""ProfileMigration and MigrationNotice moved to the rollouts app: dropped from this app's
state only; their tables and rows stay (rollouts.0001 takes them over under the same names)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0003_notice_sent_accounts"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="MigrationNotice"),
                migrations.DeleteModel(name="ProfileMigration"),
            ],
            database_operations=[],
        ),
    ]
