"""Opaque public ids (docs/api.md "Ids"): add the column, give existing rows a uuid4 in
batches, then make it unique and required."""

import uuid

from django.db import migrations, models

from core.public_ids import fill_public_ids


class Migration(migrations.Migration):
    dependencies = [
        ("rollouts", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="profilemigration",
            name="public_id",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.RunPython(
            fill_public_ids("rollouts", "ProfileMigration"),
            migrations.RunPython.noop,
            elidable=True,
        ),
        migrations.AlterField(
            model_name="profilemigration",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
