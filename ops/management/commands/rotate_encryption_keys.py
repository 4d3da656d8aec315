"""Re-encrypt every stored secret under the first FIELD_ENCRYPTION_KEYS key.

Rotation: put the new key first (keep the old ones after it), run this command, then remove
the old keys. Secrets live in: connector profiles' secret setup fields, connections' secret
config fields and their OAuth token sets (every store is listed in ENCRYPTED_FIELDS below).
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from connections.models import Connection, ConnectSession
from profiles.models import ConnectorProfile
from projects.crypto import DecryptionError, rotate
from rollouts.models import MigrationNotice

# (model, encrypted text field): every place a MultiFernet token is stored.
ENCRYPTED_FIELDS: list[tuple[type[Any], str]] = [
    (ConnectorProfile, "setup_secrets"),
    (Connection, "config_secrets"),
    (Connection, "oauth_tokens"),
    (ConnectSession, "oauth_verifier"),
    (MigrationNotice, "link_token"),
]
BATCH = 500


class Command(BaseCommand):
    help = "Re-encrypt every secret under the first key of FIELD_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        for model, field in ENCRYPTED_FIELDS:
            rows = model.objects.exclude(**{field: ""}).order_by("pk")
            last_pk = 0
            while True:
                with transaction.atomic():
                    batch = list(
                        rows.filter(pk__gt=last_pk).select_for_update().only("pk", field)[:BATCH]
                    )
                    if not batch:
                        break
                    for row in batch:
                        try:
                            setattr(row, field, rotate(getattr(row, field)))
                        except DecryptionError as exc:
                            label = f"{model._meta.label} #{row.pk}"
                            raise CommandError(
                                f"{label}: {exc} Nothing after it was rotated."
                            ) from exc
                    model.objects.bulk_update(batch, [field])
                    total += len(batch)
                    last_pk = batch[-1].pk
        self.stdout.write(
            self.style.SUCCESS(f"Re-encrypted {total} secret value(s) under the first key.")
        )
