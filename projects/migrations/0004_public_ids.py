"""Opaque public ids (docs/api.md "Ids"): add the column, give existing rows a uuid4 in
batches, then make it unique and required."""

import uuid

from django.db import migrations, models

from core.public_ids import fill_public_ids


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0003_api_key_scope"),
    ]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="public_id",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.AddField(
            model_name="team",
            name="public_id",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.RunPython(
            fill_public_ids("projects", "Membership"), migrations.RunPython.noop, elidable=True
        ),
        migrations.RunPython(
            fill_public_ids("projects", "Team"), migrations.RunPython.noop, elidable=True
        ),
        migrations.AlterField(
            model_name="membership",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AlterField(
            model_name="team",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
