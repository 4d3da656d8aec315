"""Field encryption: round trip, tampering, wrong keys, rotation."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection

from profiles.models import ConnectorProfile
from profiles.services import connector_version_push, profile_create
from projects import crypto
from projects.services import Actor
from tests.factories import connector_yaml, make_project

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()
SECRET = "client-secret-9f8e7d6c5b4a"


def test_round_trip_and_mask(settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    token = crypto.encrypt_json({"client_secret": SECRET})
    assert SECRET not in token
    assert crypto.decrypt_json(token) == {"client_secret": SECRET}
    assert crypto.mask(SECRET) == "••••" + SECRET[-4:]
    assert crypto.mask("short") == "••••"


def test_a_tampered_value_raises(settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    token = crypto.encrypt_text(SECRET)
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_text(tampered)


def test_wrong_or_missing_key_fails_loudly(settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    token = crypto.encrypt_text(SECRET)
    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_text(token)
    settings.FIELD_ENCRYPTION_KEYS = []
    with pytest.raises(ImproperlyConfigured):
        crypto.encrypt_text(SECRET)


@pytest.mark.django_db
def test_rotation_re_encrypts_every_row_then_old_keys_can_go(settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    connector_version_push(actor=Actor.system(), project=None, files=[("c", connector_yaml())])
    project = make_project()
    for n in range(3):
        profile = profile_create(
            actor=Actor.system(), project=project, connector_key="acme_crm", name=f"p{n}"
        )
        ConnectorProfile.objects.filter(pk=profile.pk).update(
            setup_secrets=crypto.encrypt_json({"client_secret": f"{SECRET}-{n}"})
        )
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    out = io.StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "Re-encrypted 3" in out.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [NEW]  # the old key is gone
    values = sorted(
        crypto.decrypt_json(p.setup_secrets)["client_secret"]
        for p in ConnectorProfile.objects.all()
    )
    assert values == [f"{SECRET}-{n}" for n in range(3)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT setup_secrets FROM profiles_connectorprofile")
        assert all(SECRET not in row[0] for row in cursor.fetchall())


@pytest.mark.django_db
def test_rotation_stops_on_a_value_no_key_opens(settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    connector_version_push(actor=Actor.system(), project=None, files=[("c", connector_yaml())])
    profile = profile_create(
        actor=Actor.system(), project=make_project(), connector_key="acme_crm", name="p"
    )
    ConnectorProfile.objects.filter(pk=profile.pk).update(
        setup_secrets=crypto.encrypt_json({"k": SECRET})
    )
    settings.FIELD_ENCRYPTION_KEYS = [NEW]  # OLD forgotten: must fail, not write garbage
    with pytest.raises(CommandError, match="could not be decrypted"):
        call_command("rotate_encryption_keys", stdout=io.StringIO())
