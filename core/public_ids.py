"""Opaque public ids: the UUID a row shows in URLs and API bodies (its integer primary key stays
internal), and the data-migration step that gives existing rows theirs."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.db import models

BATCH = 1000


def public_id_field() -> models.UUIDField:
    return models.UUIDField(default=uuid.uuid4, unique=True, editable=False)


def fill_public_ids(app_label: str, model_name: str) -> Callable[[Any, Any], None]:
    """A RunPython function that gives every row without a public id a fresh uuid4, in batches
    of ``BATCH`` rows (so that a big table is never loaded at once)."""

    def fill(apps: Any, schema_editor: Any) -> None:
        model = apps.get_model(app_label, model_name)
        rows = model.objects.using(schema_editor.connection.alias).filter(public_id__isnull=True)
        while batch := list(rows.order_by("pk").only("pk")[:BATCH]):
            for row in batch:
                row.public_id = uuid.uuid4()
            model.objects.using(schema_editor.connection.alias).bulk_update(batch, ["public_id"])

    return fill
