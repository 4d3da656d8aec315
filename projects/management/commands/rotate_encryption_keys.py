"""Re-encrypt every stored secret under the first FIELD_ENCRYPTION_KEYS key.

Rotation: put the new key first (keep the old ones after it), run this command, then remove
the old keys. Secrets live in: connector profiles' secret setup fields (more stores register
below as they are added).
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from profiles.models import ConnectorProfile
from projects.crypto import DecryptionError, rotate

# (model, encrypted text field): every place a MultiFernet token is stored.
ENCRYPTED_FIELDS = [(ConnectorProfile, "setup_secrets")]
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
