"""Indexes for the list's "Last used" / "Last checked" sorts: per project, on
COALESCE(column, epoch) newest first and id (core.pager.sort_key), so that a NULL ("never")
sorts as the oldest and every page is an index range."""

import datetime

import django.db.models.functions.comparison
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0009_open_rows_indexes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="connection",
            index=models.Index(
                models.F("project"),
                models.OrderBy(
                    django.db.models.functions.comparison.Coalesce(
                        models.F("last_used_at"),
                        models.Value(datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.UTC)),
                    ),
                    descending=True,
                ),
                models.OrderBy(models.F("id"), descending=True),
                name="conn_project_used",
            ),
        ),
        migrations.AddIndex(
            model_name="connection",
            index=models.Index(
                models.F("project"),
                models.OrderBy(
                    django.db.models.functions.comparison.Coalesce(
                        models.F("health_checked_at"),
                        models.Value(datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.UTC)),
                    ),
                    descending=True,
                ),
                models.OrderBy(models.F("id"), descending=True),
                name="conn_project_checked",
            ),
        ),
    ]
