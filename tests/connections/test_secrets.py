"""Connection secrets at rest: encrypted in every row, absent from a database dump, rotated
by rotate_encryption_keys, and a tampered value raises instead of decrypting to garbage."""

from __future__ import annotations

import io
import shutil
import sqlite3
import subprocess
import time

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection as db

from connections.models import Connection
from connections.selectors import credentials_masked, masked_config, masked_values, oauth_scopes
from projects import crypto
from projects.models import AuditEntry
from tests.factories import make_connection, make_profile, make_project

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()
API_KEY = "sk_live_DUMPTEST_4242424242"
ACCESS = "ya29.ACCESS_DUMPTEST_777"
REFRESH = "1//REFRESH_DUMPTEST_888"
CLIENT_SECRET = "client-secret-DUMPTEST-999"
PLAINTEXTS = [API_KEY, ACCESS, REFRESH, CLIENT_SECRET]


def seed() -> tuple[Connection, Connection]:
    project = make_project()
    api = make_connection(make_profile(project), config={"api_key": API_KEY})
    oauth_profile = make_profile(
        project,
        "orbit_hr",
        auth_type="oauth2",
        required_fields=(),
        setup_fields=("client_id", "client_secret"),
        setup={"client_id": "hub", "client_secret": CLIENT_SECRET},
    )
    oauth = make_connection(
        oauth_profile,
        config={},
        tokens={"access_token": ACCESS, "refresh_token": REFRESH, "expires_at": time.time()},
    )
    return api, oauth


def dump_database() -> str:
    """The whole test database as text: pg_dump on PostgreSQL, iterdump on SQLite."""
    if db.vendor == "postgresql":
        pg_dump = shutil.which("pg_dump")
        assert pg_dump, "pg_dump is needed for this test on PostgreSQL"
        settings = db.settings_dict
        out = subprocess.run(
            [
                pg_dump,
                "-h",
                settings["HOST"] or "127.0.0.1",
                "-p",
                str(settings["PORT"] or 5432),
                "-U",
                settings["USER"] or "postgres",
                "--data-only",
                settings["NAME"],
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout
    name = db.settings_dict["NAME"]
    if str(name).startswith("file:") or name == ":memory:":
        return "\n".join(db.connection.iterdump())
    with sqlite3.connect(name) as copy:
        return "\n".join(copy.iterdump())


@pytest.mark.django_db(transaction=True)
def test_a_database_dump_holds_no_secret_plaintext() -> None:
    api, oauth = seed()
    dump = dump_database()
    assert "origin_owner_id" in dump or api.origin_owner_id in dump  # the rows are there
    assert api.origin_owner_id in dump
    for secret in PLAINTEXTS:
        assert secret not in dump, f"{secret[:8]}… is in the dump in plain text"
    # And they are really stored, encrypted:
    api.refresh_from_db()
    assert crypto.decrypt_json(api.config_secrets) == {"api_key": API_KEY}
    assert crypto.decrypt_json(oauth.oauth_tokens)["refresh_token"] == REFRESH


@pytest.mark.django_db
def test_masked_views_and_audit_hold_no_secret() -> None:
    api, oauth = seed()
    shown = str(credentials_masked(api)) + str(masked_config(api)) + str(credentials_masked(oauth))
    for secret in PLAINTEXTS:
        assert secret not in shown
    assert "••••" + API_KEY[-4:] in shown and "••••" + ACCESS[-4:] in shown
    audit = str(list(AuditEntry.objects.values("before", "after", "target_repr")))
    for secret in PLAINTEXTS:
        assert secret not in audit


@pytest.mark.django_db
def test_a_tampered_connection_secret_raises() -> None:
    api, _ = seed()
    token = api.config_secrets
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    Connection.objects.filter(pk=api.pk).update(config_secrets=tampered)
    api.refresh_from_db()
    with pytest.raises(crypto.DecryptionError):
        credentials_masked(api)


@pytest.mark.django_db
def test_rotation_covers_connections_then_old_keys_can_go(settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    api, oauth = seed()
    before = {c.pk: (c.config_secrets, c.oauth_tokens) for c in Connection.objects.all()}
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    out = io.StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    # 2 profiles' setup secrets (one empty → skipped) + 1 config secret + 1 token set
    assert "Re-encrypted 3" in out.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [NEW]  # the old key is gone
    api.refresh_from_db()
    oauth.refresh_from_db()
    assert api.config_secrets != before[api.pk][0]
    assert crypto.decrypt_json(api.config_secrets) == {"api_key": API_KEY}
    assert crypto.decrypt_json(oauth.oauth_tokens)["access_token"] == ACCESS
    assert credentials_masked(oauth)  # readable with the new key alone


@pytest.mark.django_db
def test_masked_views_held_by_ciphertext_never_outlive_a_secret_or_a_key(settings) -> None:
    """The API's masked values and scopes are held per ciphertext (a page read again decrypts
    nothing): a changed secret is a new ciphertext, shown anew; a tampered one is refused; a
    retired key's ciphertexts are refused at once, held or not."""
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    api, oauth = seed()
    shown = masked_values(api.config_values, api.config_secrets)
    assert shown == {"api_key": "••••" + API_KEY[-4:]}
    assert masked_values(api.config_values, api.config_secrets) == shown  # held
    shown["api_key"] = "changed by a caller"
    assert masked_values(api.config_values, api.config_secrets)["api_key"].endswith("4242")
    assert oauth_scopes(oauth.oauth_tokens) == []
    scoped = crypto.encrypt_json({"access_token": ACCESS, "scope": "read write"})
    assert oauth_scopes(scoped) == ["read", "write"]
    assert oauth_scopes(crypto.encrypt_json({"scopes": ["a", 1]})) == ["a", "1"]

    replaced = crypto.encrypt_json({"api_key": "sk_live_REPLACED_000099"})
    assert masked_values({}, replaced) == {"api_key": "••••0099"}
    tampered = replaced[:-6] + ("A" if replaced[-6] != "A" else "B") + replaced[-5:]
    with pytest.raises(crypto.DecryptionError):
        masked_values({}, tampered)

    settings.FIELD_ENCRYPTION_KEYS = [NEW]  # the old key retired
    with pytest.raises(crypto.DecryptionError):
        masked_values(api.config_values, api.config_secrets)
    with pytest.raises(crypto.DecryptionError):
        oauth_scopes(scoped)
